"""draw_fpn labels every level with its real channels and size, and rejects levels it cannot draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from backbones_tutorial.features import FeatureInfo
from backbones_tutorial.pyramid import resnet_features
from backbones_tutorial.viz import draw_fpn

# C2..C5 of each network, written from the ResNet paper's Table 1 (not read from the package),
# and the side of each level for a square input: every stride-2 layer rounds an odd side up.
CHANNELS = {18: [64, 128, 256, 512], 50: [256, 512, 1024, 2048]}
SIDES = {224: [56, 28, 14, 7], 225: [57, 29, 15, 8]}


def texts(fig: Figure) -> list[str]:
    (ax,) = fig.axes
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("depth", [18, 50])
@pytest.mark.parametrize("side", [224, 225])
def test_draw_fpn_labels_every_level_with_its_channels_and_size(depth: int, side: int) -> None:
    info = resnet_features(depth).feature_info[1:]  # C2..C5, without the stem
    fig = draw_fpn(info, out_channels=256, size=(side, side))
    assert isinstance(fig, Figure)
    labels = texts(fig)
    for k, (name, channels, s) in enumerate(zip(["layer1", "layer2", "layer3", "layer4"], CHANNELS[depth], SIDES[side]),
                                            start=2):
        assert f"C{k}: {name}\n{channels} ch, {s} x {s}" in labels
        assert f"1x1 conv\n{channels} → 256" in labels
        assert f"P{k}, stride {2 ** k}\n256 ch, {s} x {s}" in labels
    assert labels.count("3x3 conv\n256 → 256") == 4
    assert labels.count("+") == 3  # every level but the coarsest adds the map from above


def test_draw_fpn_upsamples_to_the_exact_size_of_the_level_below() -> None:
    # At 225 x 225, doubling C5's 8 x 8 would give 16 x 16; the arrows must name C4's 15 x 15.
    labels = texts(draw_fpn(resnet_features(50).feature_info[1:], size=(225, 225)))
    arrows = [t for t in labels if t.startswith("upsample")]
    assert arrows == ["upsample to 57 x 57\n(size of C2)", "upsample to 29 x 29\n(size of C3)",
                      "upsample to 15 x 15\n(size of C4)"]


def test_draw_fpn_keeps_height_and_width_apart() -> None:
    info = [FeatureInfo("layer3", 1024, 16), FeatureInfo("layer4", 2048, 32)]
    labels = texts(draw_fpn(info, out_channels=128, size=(225, 300)))
    assert "C4: layer3\n1024 ch, 15 x 19" in labels
    assert "P5, stride 32\n128 ch, 8 x 10" in labels
    assert "upsample to 15 x 19\n(size of C4)" in labels


def test_draw_fpn_rejects_levels_ordered_coarse_to_fine() -> None:
    info = resnet_features(18).feature_info[1:][::-1]
    with pytest.raises(ValueError, match=r"fine to coarse.*\[32, 16, 8, 4\]"):
        draw_fpn(info)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(feature_info=[]), "non-empty list of FeatureInfo"),
        (dict(feature_info=[FeatureInfo("layer1", 64, 3)]), "power of 2"),
        (dict(out_channels=0), "out_channels must be a positive int, got 0"),
        (dict(size=224), r"size must be the input's \(H, W\).*got 224"),
        (dict(size=(224, 0)), r"size must be the input's \(H, W\)"),
    ],
)
def test_draw_fpn_rejects_bad_arguments_saying_what_it_expected(kwargs: dict, message: str) -> None:
    args = dict(feature_info=resnet_features(18).feature_info[1:]) | kwargs
    with pytest.raises(ValueError, match=message):
        draw_fpn(**args)


def test_draw_fpn_rejects_channel_counts_instead_of_feature_info() -> None:
    with pytest.raises(TypeError, match=r"FeatureInfo\(name, channels, reduction\), got 256"):
        draw_fpn([256, 512, 1024, 2048])


def test_draw_fpn_leaves_pyplot_state_alone() -> None:
    before = plt.get_fignums()
    draw_fpn(resnet_features(18).feature_info[1:])
    assert plt.get_fignums() == before
