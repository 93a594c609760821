"""Stage metadata: declared where the stages are built, validated on construction, one size rule,
and checked against real tensors at sizes that are not multiples of 32."""

import dataclasses

import pytest
import torch
import torchvision
from torch import nn

from backbones_tutorial.extractors.cut import truncate, up_to
from backbones_tutorial.models.resnet import STAGES, resnet_feature_info
from backbones_tutorial.models.resnet import resnet as build_resnet
from backbones_tutorial.pyramids.levels import FeatureInfo, Levels, level_size
from backbones_tutorial.pyramids.resnet import ResNetBackbone, resnet_features
from backbones_tutorial.registry import MODELS, PREDICTABLE

DEPTHS = [18, 34, 50, 101, 152]
# He et al. (2015), Table 1: output channels of conv2_x .. conv5_x; 64 after the stem.
PAPER_CHANNELS = {"basic": [64, 64, 128, 256, 512], "bottleneck": [64, 256, 512, 1024, 2048]}
PAPER_STRIDES = [2, 4, 8, 16, 32]


def paper(depth):
    return list(zip(PAPER_CHANNELS["basic" if depth < 50 else "bottleneck"], PAPER_STRIDES, strict=True))


@pytest.mark.parametrize("depth", DEPTHS)
def test_resnet_feature_info_of_the_package_resnet_reports_the_paper_channels(depth):
    """The bug: block types were tested with torchvision's Bottleneck, so the package's own
    resnet50/101/152 were reported with 64/128/256/512 channels."""
    with torch.device("meta"):  # metadata only: no memory, no initialisation
        model = build_resnet(depth)
    for info in (model.feature_info, resnet_feature_info(model), ResNetBackbone(model).feature_info):
        assert [(f.channels, f.reduction) for f in info] == paper(depth)
        assert info.names == ["stem", *STAGES]


@pytest.mark.parametrize("depth", DEPTHS)
def test_every_resnet_declares_the_same_levels_however_it_was_built(depth):
    with torch.device("meta"):
        tv = getattr(torchvision.models, f"resnet{depth}")(weights=None)  # built by torchvision: nothing declared
        declared = [build_resnet(depth).feature_info, resnet_features(depth).feature_info]
    assert not hasattr(tv, "feature_info")
    read = [resnet_feature_info(tv), ResNetBackbone(tv).feature_info]
    assert all(info == declared[0] for info in declared + read)
    assert [(f.channels, f.reduction) for f in declared[0]] == paper(depth)


@pytest.mark.parametrize("arch", ["wide_resnet50_2", "resnext50_32x4d"])
def test_reading_feature_info_needs_no_block_type_or_width(arch):
    """Wide ResNets and ResNeXt have other inner widths but the same stage outputs."""
    with torch.device("meta"):
        model = getattr(torchvision.models, arch)(weights=None)
    assert [(f.channels, f.reduction) for f in resnet_feature_info(model)] == paper(50)


def test_dilated_stages_keep_their_reduction():
    model = resnet_features(50, replace_stride_with_dilation=[False, True, True])
    assert model.feature_info.reductions == [2, 4, 8, 8, 8]
    with torch.no_grad():
        outs = model.eval()(torch.randn(1, 3, 77, 61))
    assert [tuple(t.shape[1:]) for t in outs] == model.feature_info.shapes(77, 61)


@pytest.mark.parametrize("depth", [18, 50])
@pytest.mark.parametrize("size", [(1, 1), (31, 33), (225, 97), (64, 64)])
def test_package_resnet_levels_match_real_tensors_at_odd_sizes(shared_model, depth, size):
    """The declared (C, H, W) of each level against the tensors the stages really produce."""
    model = shared_model(f"resnet{depth}")
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        stem = model.relu(model.bn1(model.conv1(x)))
        outs, h = [stem], model.maxpool(stem)
        for name in STAGES:
            h = getattr(model, name)(h)
            outs.append(h)
    assert [tuple(t.shape[1:]) for t in outs] == model.feature_info.shapes(*size)


def test_level_size_rounds_up_for_resnet_and_down_for_vgg_at_odd_sizes():
    # By hand: ResNet's padded stride-2 layers map 225 -> 113 -> 57 -> 29 -> 15 -> 8;
    # VGG's 2x2 pools map 225 -> 112 -> 56 -> 28 -> 14 -> 7.
    assert [level_size(225, r, "ceil") for r in PAPER_STRIDES] == [113, 57, 29, 15, 8]
    assert [level_size(225, r, "floor") for r in PAPER_STRIDES] == [112, 56, 28, 14, 7]
    assert level_size(224, 32, "ceil") == level_size(224, 32, "floor") == 7  # only multiples agree
    with pytest.raises(ValueError, match="unknown rounding 'round'; valid choices: 'ceil', 'floor'"):
        level_size(224, 32, "round")
    with pytest.raises(ValueError, match="reduction must be a positive int, got 0"):
        level_size(224, 0, "ceil")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="", channels=64, reduction=4), "non-empty name"),
        (dict(name="c2", channels=0, reduction=4), "channels must be a positive int, got 0"),
        (dict(name="c2", channels=64, reduction=-4), "reduction must be a positive int, got -4"),
        (dict(name="c2", channels=True, reduction=4), "channels must be a positive int, got True"),
        (dict(name="c2", channels=64, reduction=4, rounding="up"), "unknown rounding 'up'"),
    ],
)
def test_feature_info_refuses_impossible_levels(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeatureInfo(**kwargs)


def test_levels_must_grow_coarser_and_be_named_once():
    c2, c3 = FeatureInfo("c2", 256, 4), FeatureInfo("c3", 512, 8)
    with pytest.raises(ValueError, match=r"fine to coarse.*\[8, 4\]"):
        Levels([c3, c2])
    assert Levels([c2, dataclasses.replace(c3, reduction=4)]).reductions == [4, 4]  # a dilated stage
    with pytest.raises(ValueError, match="distinct"):
        Levels([c2, dataclasses.replace(c3, name="c2")])
    with pytest.raises(TypeError, match="holds FeatureInfo"):
        Levels([c2, (512, 8)])
    levels = Levels([c2, c3])
    assert isinstance(levels[1:], Levels) and levels[1:].names == ["c3"] and levels[0] == c2
    assert levels.select(["c3"]) == Levels([c3])
    with pytest.raises(ValueError, match="unknown level 'c4'; valid choices: 'c2', 'c3'"):
        levels.select(["c4"])


def test_fpn_levels_inherit_the_sizes_of_the_levels_they_read(shared_model):
    model = shared_model("resnet50_fpn")
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 129, 71))
    assert [tuple(t.shape[1:]) for t in outs] == model.feature_info.shapes(129, 71)
    assert model.feature_info.names == ["p2", "p3", "p4", "p5"]


@pytest.mark.parametrize("cut", ["3", "0"])
def test_truncate_cuts_a_plain_sequential_with_linear_layers(shared_model, cut):
    """The bug: any Linear after another child was blamed on a hidden flatten, which a plain
    nn.Sequential does not have."""
    classifier = shared_model("vgg16").classifier  # the registry's vgg16 is torchvision's
    part = truncate(classifier, cut)
    x = torch.randn(2, 25088)
    want = x
    for module in list(classifier)[: int(cut) + 1]:
        want = module(want)
    with torch.no_grad():
        assert torch.equal(part(x), want)
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    assert list(truncate(mlp, "2")) == list(mlp)


def test_truncate_still_refuses_a_linear_after_a_hidden_flatten(shared_torchvision, shared_model):
    with pytest.raises(ValueError, match="flattens between them, and that flatten is not a child"):
        truncate(shared_torchvision("resnet18"), "fc")
    with pytest.raises(ValueError, match="flattens between them"):
        truncate(shared_model("vgg16"), "classifier.0")


def test_up_to_names_the_children_up_to_a_stage(shared_torchvision, shared_model):
    model = shared_torchvision("resnet18")
    assert up_to(model, "layer2") == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2"]
    assert up_to(shared_model("resnet50_fpn"), "body.layer1") == [
        "body.conv1", "body.bn1", "body.relu", "body.maxpool", "body.layer1"]
    assert [n for n, _ in truncate(model, "layer2").named_children()] == up_to(model, "layer2")
    with pytest.raises(ValueError, match="unknown child of ResNet 'layer9'; valid choices: 'conv1'"):
        up_to(model, "layer9")
    with pytest.raises(TypeError, match="submodule name"):
        up_to(model, "")


def test_the_registry_builds_every_claimed_model_and_predicts_the_classifiers():
    from backbones_tutorial.shapes.claims import CLAIMS

    assert {c.model for c in CLAIMS} <= set(MODELS)
    assert set(PREDICTABLE) == {f"resnet{d}" for d in DEPTHS} | {"vgg16"}


def test_levels_sizes_chain_mixed_roundings_as_swin_computes_them():
    # Swin: a 4x4/4 patchify conv floors (225 -> 56), each 2x2 patch merging pads and rounds up.
    # Hand arithmetic: 56, 28, 14, 7; rounding once from the input would give ceil(225/8) = 29 at /8.
    levels = Levels([FeatureInfo("stem", 96, 4, "floor"), FeatureInfo("s2", 192, 8, "ceil"),
                     FeatureInfo("s3", 384, 16, "ceil"), FeatureInfo("s4", 768, 32, "ceil")])
    assert levels.sizes(225, 231) == [(56, 57), (28, 29), (14, 15), (7, 8)]
    assert levels.shapes(225, 231)[1] == (192, 28, 29)
    assert levels[1:].sizes(225, 231) == [(28, 29), (14, 15), (7, 8)]  # a slice keeps the chain it came from
    assert levels.select(["s2", "s4"]).sizes(225, 231) == [(28, 29), (7, 8)]
    assert Levels(levels[1:]).sizes(225, 231)[0] == (28, 29)  # a copy of a slice too
    assert Levels(list(levels[1:])).sizes(225, 231)[0] == (29, 29)  # a new pyramid at /8: ceil(n/8)


@pytest.mark.parametrize("rounding", ["ceil", "floor"])
@pytest.mark.parametrize("side", [33, 63, 97, 225, 301])  # >= 32: a floor pyramid keeps every level
def test_levels_sizes_equal_one_rounding_from_the_input_when_every_step_rounds_alike(rounding, side):
    levels = Levels(FeatureInfo(f"l{r}", 8, r, rounding) for r in (2, 4, 8, 16, 32))
    one = [-(-side // r) if rounding == "ceil" else side // r for r in (2, 4, 8, 16, 32)]  # by hand
    expected = [(n, n) for n in one]
    assert levels.sizes(side, side) == expected
    for k in range(len(levels)):  # every slice gives its levels' sizes, as the whole pyramid does
        assert levels[k:].sizes(side, side) == expected[k:]


def test_levels_sizes_refuse_a_reduction_that_does_not_divide_the_next():
    levels = Levels([FeatureInfo("a", 8, 2), FeatureInfo("b", 8, 3)])
    with pytest.raises(ValueError, match=r"reduction 3 is not a multiple of the previous level's 2"):
        levels.sizes(64, 64)
