"""The input-size contract: level sizes by arithmetic (checked by hand and against meta forwards),
the divisor and padded size, the minimum side, refusals, and pad_to_multiple with its crop."""

import pytest
import torch

from backbones_tutorial.__main__ import main
from backbones_tutorial.pyramids.backbone import backbone, build_on_meta
from backbones_tutorial.pyramids.contract import Padding, contract, level_sizes, pad_to_multiple
from backbones_tutorial.pyramids.probe import meta_call

# By hand at 225 x 300. ResNet, EfficientNet: padded stride-2 convs round up at every step.
# VGG: 2x2 pools floor. ConvNeXt: the 4x4/4 stem and the 2x2/2 downsamples floor. Swin: the 4x4/4
# patchify floors (56, 75), then each patch merging pads an odd side and halves (75 -> 38 -> 19 -> 10).
BY_HAND = {
    "resnet18": [(113, 150), (57, 75), (29, 38), (15, 19), (8, 10)],
    "efficientnet_b0": [(113, 150), (57, 75), (29, 38), (15, 19), (8, 10)],
    "vgg16": [(112, 150), (56, 75), (28, 37), (14, 18), (7, 9)],
    "convnext_tiny": [(56, 75), (28, 37), (14, 18), (7, 9)],
    "swin_t": [(56, 75), (28, 38), (14, 19), (7, 10)],
}


@pytest.mark.parametrize("arch", BY_HAND)
def test_level_sizes_at_an_odd_size_are_the_hand_arithmetic(arch):
    c = contract(arch, (225, 300))
    assert [s[1:] for s in c.shapes] == BY_HAND[arch] == level_sizes(c.levels, 225, 300)
    assert c.divisor == 32 and c.padded == (256, 320) and not c.exact and c.refused is None
    assert contract(arch, (224, 224)).exact and contract(arch, (224, 224)).padded == (224, 224)


# The smallest side every level survives: VGG halves 5 times with unpadded pools (2**5), ConvNeXt
# needs 4 * 2**3, Swin one 4x4 patch, padded convs never empty a map.
MINIMUM = {"vgg16": 32, "convnext_tiny": 32, "swin_t": 4, "resnet18": 1, "mobilenet_v3_small": 1}


@pytest.mark.parametrize("arch", MINIMUM)
def test_the_minimum_side_runs_and_one_less_is_refused(arch):
    c = contract(arch, (64, 64))
    assert c.minimum == MINIMUM[arch]
    pyramid = backbone(build_on_meta(arch))
    n = c.minimum
    outs = meta_call(pyramid, torch.empty(1, 3, n, n, device="meta"))
    assert [tuple(o.shape[2:]) for o in outs] == level_sizes(c.levels, n, n)
    if n > 1:
        with pytest.raises(ValueError, match=f"at least {n}, got shape \\[1, 3, {n - 1}, {n - 1}\\]"):
            meta_call(pyramid, torch.empty(1, 3, n - 1, n - 1, device="meta"))  # the pyramid refuses it
        pyramid.minimum_side = 1  # lift the check: torch's own failure, which the contract predicts
        with pytest.raises(RuntimeError):
            meta_call(pyramid, torch.empty(1, 3, n - 1, n - 1, device="meta"))
        refused = contract(arch, (n - 1, 300))
        assert refused.shapes == () and f"the minimum is {n}x{n}" in refused.refused


def test_a_fixed_size_model_is_refused_with_the_size_it_needs():
    c = contract("vit_b_16", (225, 300))
    assert c.fixed == (224, 224) and c.padded == (224, 224) and c.shapes == ()
    assert "takes only 224x224 inputs" in c.refused and "got 225x300" in c.refused
    assert c.minimum == 224, "the only side it takes; the levels' arithmetic alone would allow 32"
    ok = contract("vit_b_16", (224, 224))
    assert ok.refused is None and [s[1:] for s in ok.shapes] == [(56, 56), (28, 28), (14, 14), (7, 7)]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown backbone 'alexnet'; valid choices: resnet18"):
        contract("alexnet", (224, 224))
    with pytest.raises(ValueError, match=r"two positive ints \(H, W\), got \(0, 3\)"):
        contract("resnet18", (0, 3))
    with pytest.raises(ValueError, match="multiple must be a positive int .* got 0"):
        pad_to_multiple(torch.zeros(1, 3, 8, 8), 0)
    with pytest.raises(ValueError, match=r"expects a \(B, C, H, W\) batch .*got shape \[3, 8, 8\]"):
        pad_to_multiple(torch.zeros(3, 8, 8), 32)
    with pytest.raises(ValueError, match="at least 9x6 cells; got shape"):
        Padding((65, 47), (96, 64)).crop(torch.zeros(1, 4, 8, 6), 8)


def test_pad_to_multiple_pads_with_zeros_bottom_right_and_crops_back():
    x = torch.randn(2, 3, 65, 47)
    padded, how = pad_to_multiple(x, 32)
    assert padded.shape == (2, 3, 96, 64) and how == Padding((65, 47), (96, 64))
    assert torch.equal(padded[..., :65, :47], x) and padded[..., 65:, :].abs().sum() == 0
    assert padded[..., :, 47:].abs().sum() == 0
    assert how.crop(torch.zeros(2, 4, 12, 8), 8).shape == (2, 4, 9, 6)  # ceil(65/8), ceil(47/8)
    same, none = pad_to_multiple(padded, 32)
    assert same.shape == padded.shape and none.size == none.padded


def test_padded_levels_are_exact_and_crop_to_the_unpadded_ones_for_a_ceil_model():
    pyramid = backbone(build_on_meta("resnet18"))
    x = torch.empty(1, 3, 65, 47, device="meta")
    padded, how = pad_to_multiple(x, contract("resnet18", (65, 47)).divisor)
    on_padded = meta_call(pyramid, padded)
    on_x = meta_call(pyramid, x)
    info = pyramid.feature_info
    assert [tuple(o.shape[2:]) for o in on_padded] == [(96 // r, 64 // r) for r in info.reductions]
    assert [how.crop(o, r).shape for o, r in zip(on_padded, info.reductions, strict=True)] == \
        [o.shape for o in on_x]


def test_shapes_command_states_the_contract(capsys):
    assert main(["shapes", "swin_t", "--size", "225", "300"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("features.")}
    assert rows["features.3"] == ["192", "x", "28", "x", "38", "/8", "ceil"]
    assert rows["features.7"] == ["768", "x", "7", "x", "10", "/32", "ceil"]
    assert "divisor: 32" in out and "the nearest padded size is 256 x 320" in out and "minimum side: 4" in out
    assert main(["shapes", "resnet50", "--size", "224", "224"]) == 0
    assert "224 x 224 is exact at every level" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["vit_b_16", "--size", "225", "300"], "vit_b_16 takes only 224x224 inputs"),
    (["convnext_tiny", "--size", "16", "16"], "the minimum is 32x32"),
])
def test_shapes_command_refuses_with_the_reason(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(["shapes", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err
