"""draw_fpn labels every level with its real channels and size (the backbone's own size rule),
and rejects levels it cannot draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from backbones_tutorial.extractors.zoo import vgg16_blocks
from backbones_tutorial.pyramids.levels import FeatureInfo, Levels
from backbones_tutorial.pyramids.resnet import resnet_features
from backbones_tutorial.viz import draw_fpn

# C2..C5 of each network, written from the ResNet paper's Table 1 (not read from the package),
# and the side of each level for a square input: every stride-2 layer rounds an odd side up.
CHANNELS = {18: [64, 128, 256, 512], 50: [256, 512, 1024, 2048]}
SIDES = {224: [56, 28, 14, 7], 225: [57, 29, 15, 8]}


def on_meta(factory, *args, **kwargs):
    """Build on the meta device: feature_info without the cost of initialising weights."""
    with torch.device("meta"):
        return factory(*args, **kwargs)


def meta_features(depth, **kwargs):
    return on_meta(resnet_features, depth, **kwargs)


def texts(fig: Figure) -> list[str]:
    (ax,) = fig.axes
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("depth", [18, 50])
@pytest.mark.parametrize("side", [224, 225])
def test_draw_fpn_labels_every_level_with_its_channels_and_size(depth: int, side: int) -> None:
    info = meta_features(depth).feature_info[1:]  # C2..C5, without the stem
    fig = draw_fpn(info, out_channels=256, size=(side, side))
    assert isinstance(fig, Figure)
    labels = texts(fig)
    stages = zip(["layer1", "layer2", "layer3", "layer4"], CHANNELS[depth], SIDES[side], strict=True)
    for k, (name, channels, s) in enumerate(stages, start=2):
        assert f"C{k}: {name}\n{channels} ch, {s} x {s}" in labels
        assert f"1x1 conv\n{channels} → 256" in labels
        assert f"P{k}, stride {2 ** k}\n256 ch, {s} x {s}" in labels
    assert labels.count("3x3 conv\n256 → 256") == 4
    assert labels.count("+") == 3  # every level but the coarsest adds the map from above


def test_draw_fpn_upsamples_to_the_exact_size_of_the_level_below() -> None:
    # At 225 x 225, doubling C5's 8 x 8 would give 16 x 16; the arrows must name C4's 15 x 15.
    labels = texts(draw_fpn(meta_features(50).feature_info[1:], size=(225, 225)))
    arrows = [t for t in labels if t.startswith("upsample")]
    assert arrows == ["upsample to 57 x 57\n(size of C2)", "upsample to 29 x 29\n(size of C3)",
                      "upsample to 15 x 15\n(size of C4)"]


def test_draw_fpn_keeps_height_and_width_apart() -> None:
    info = [FeatureInfo("layer3", 1024, 16), FeatureInfo("layer4", 2048, 32)]
    labels = texts(draw_fpn(info, out_channels=128, size=(225, 300)))
    assert "C4: layer3\n1024 ch, 15 x 19" in labels
    assert "P5, stride 32\n128 ch, 8 x 10" in labels
    assert "upsample to 15 x 19\n(size of C4)" in labels


# Every level of each backbone (the stem and VGG's first block included) at odd sizes, computed by
# hand: ResNet's padded stride-2 layers round each halving up (225 -> 113 -> 57 -> 29 -> 15 -> 8),
# VGG's unpadded 2x2 pools round it down (225 -> 112 -> 56 -> 28 -> 14 -> 7). 300 wide: 150, 75,
# then 37.5 -> 38 or 37, 18.75 -> 19 or 18, 9.375 -> 10 or 9.
ODD_SIZES = {
    ("vgg16", (225, 225)): [(112, 112), (56, 56), (28, 28), (14, 14), (7, 7)],
    ("resnet50", (225, 225)): [(113, 113), (57, 57), (29, 29), (15, 15), (8, 8)],
    ("vgg16", (225, 300)): [(112, 150), (56, 75), (28, 37), (14, 18), (7, 9)],
    ("resnet50", (225, 300)): [(113, 150), (57, 75), (29, 38), (15, 19), (8, 10)],
}
# Names and channels of each level: VGG16's five conv blocks (Simonyan & Zisserman, Table 1, D)
# and ResNet50's stem and stages (He et al., Table 1).
LEVEL_CHANNELS = {
    "vgg16": [("block1", 64), ("block2", 128), ("block3", 256), ("block4", 512), ("block5", 512)],
    "resnet50": [("stem", 64), ("layer1", 256), ("layer2", 512), ("layer3", 1024), ("layer4", 2048)],
}


def backbone_levels(name: str) -> Levels:
    with torch.device("meta"):  # metadata only: no memory, no initialisation
        return on_meta(vgg16_blocks).feature_info if name == "vgg16" else meta_features(50).feature_info


@pytest.mark.parametrize(("backbone", "size"), list(ODD_SIZES))
def test_draw_fpn_sizes_follow_the_backbones_own_rounding_at_odd_sizes(backbone: str, size: tuple[int, int]) -> None:
    info = backbone_levels(backbone)
    assert {f.rounding for f in info} == {"floor" if backbone == "vgg16" else "ceil"}
    labels = texts(draw_fpn(info, out_channels=256, size=size))
    for k, ((name, channels), (h, w)) in enumerate(zip(LEVEL_CHANNELS[backbone], ODD_SIZES[backbone, size],
                                                      strict=True), start=1):
        assert f"C{k}: {name}\n{channels} ch, {h} x {w}" in labels
        assert f"P{k}, stride {2 ** k}\n256 ch, {h} x {w}" in labels
    upsampled = [(h, w) for h, w in ODD_SIZES[backbone, size][:-1]]  # every level but the coarsest
    assert [t for t in labels if t.startswith("upsample")] == [
        f"upsample to {h} x {w}\n(size of C{k})" for k, (h, w) in enumerate(upsampled, start=1)
    ]


def test_draw_fpn_accepts_levels_and_a_plain_list_alike() -> None:
    info = meta_features(18).feature_info[1:]
    assert isinstance(info, Levels)
    assert texts(draw_fpn(info, size=(225, 300))) == texts(draw_fpn(list(info), size=(225, 300)))


def test_draw_fpn_rejects_levels_ordered_coarse_to_fine() -> None:
    info = meta_features(18).feature_info[1:][::-1]
    with pytest.raises(ValueError, match=r"fine to coarse.*\[32, 16, 8, 4\]"):
        draw_fpn(info)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(feature_info=[]), r"non-empty list of FeatureInfo.*got \[\]"),
        (dict(feature_info=FeatureInfo("layer1", 64, 4)), "a Levels or a non-empty list of FeatureInfo"),
        (dict(feature_info=[FeatureInfo("layer1", 64, 3)]),
         r"power of 2 \(2, 4, 8, ...\); got reduction 3 for level 'layer1'"),
        (dict(feature_info=[FeatureInfo("conv", 64, 1)]), "power of 2.*got reduction 1"),
        (dict(feature_info=[FeatureInfo("a", 64, 4), FeatureInfo("a", 128, 8)]), "names must be distinct"),
        (dict(out_channels=True), "out_channels must be a positive int, got True"),
        (dict(out_channels=0), "out_channels must be a positive int, got 0"),
        (dict(size=224), r"size must be the input's \(H, W\).*got 224"),
        (dict(size=(224, 0)), r"size must be the input's \(H, W\)"),
    ],
)
def test_draw_fpn_rejects_bad_arguments_saying_what_it_expected(kwargs: dict, message: str) -> None:
    args = dict(feature_info=meta_features(18).feature_info[1:]) | kwargs
    with pytest.raises(ValueError, match=message):
        draw_fpn(**args)


def test_draw_fpn_rejects_dilated_levels_that_share_a_reduction() -> None:
    # Levels allows a dilated stage to keep its predecessor's reduction; the drawing labels each
    # level Ck by its reduction, so it needs them all different.
    with torch.device("meta"):
        info = meta_features(50, replace_stride_with_dilation=[False, True, True]).feature_info[1:]
    with pytest.raises(ValueError, match=r"reductions must grow strictly; got reductions \[4, 8, 8, 8\]"):
        draw_fpn(info)


def test_draw_fpn_rejects_channel_counts_instead_of_feature_info() -> None:
    with pytest.raises(TypeError, match=r"FeatureInfo\(name, channels, reduction\), got 256"):
        draw_fpn([256, 512, 1024, 2048])


def test_draw_fpn_leaves_pyplot_state_alone() -> None:
    before = plt.get_fignums()
    draw_fpn(meta_features(18).feature_info[1:])
    assert plt.get_fignums() == before
