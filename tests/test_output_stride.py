"""backbone(..., output_stride=16|8): the deeper stages dilated instead of strided.

Torchvision's own dilated models are the references where they exist (ResNet50's
replace_stride_with_dilation, MobileNetV3's dilated=True): same weights, same input, equal
outputs bit for bit, and the same stride, dilation and padding conv by conv. ResNet18/34, which
torchvision refuses to dilate, are checked against its rule written out by hand. Every family and
stride: the declared sizes equal real tensors at seeded random odd, non-square sizes, for the
whole pyramid and for slices and selections.
"""

from __future__ import annotations

import functools
import random

import pytest
import torch
import torchvision
from conftest import uninitialised
from test_backbones import randomise
from torch import nn

from backbones_tutorial.models.resnet import resnet18 as package_resnet18
from backbones_tutorial.pyramids.backbone import Pyramid, backbone, build_on_meta, build_torchvision, resnet_steps
from backbones_tutorial.pyramids.dilation import DILATABLE
from backbones_tutorial.pyramids.probe import meta_call

pytestmark = pytest.mark.slow  # real forwards of every family at many sizes: make quick leaves them out

SMALLEST = {"ResNet": "resnet18", "MobileNetV3": "mobilenet_v3_small", "EfficientNet": "efficientnet_b0",
            "RegNet": "regnet_x_400mf", "ConvNeXt": "convnext_tiny"}
ODD_SIZES = [(h | 1, w | 1) for h, w in
             ((random.Random(s).randint(33, 97), random.Random(s + 100).randint(33, 97)) for s in range(4))]


@functools.cache
def pyramids(name: str, output_stride: int) -> tuple[nn.Module, nn.Module]:
    """The undilated pyramid and the dilated one, on the same random weights."""
    model = randomise(uninitialised(build_torchvision, name))
    return backbone(model), backbone(model, output_stride=output_stride).eval()


def test_every_dilatable_family_is_tested():
    assert set(SMALLEST) == set(DILATABLE)


@pytest.mark.parametrize("output_stride", [16, 8])
@pytest.mark.parametrize("name", SMALLEST.values())
def test_declared_sizes_equal_real_tensors_at_random_odd_sizes(name, output_stride):
    plain, dilated = pyramids(name, output_stride)
    info = dilated.feature_info
    # What output stride means, from the undilated pyramid: each reduction capped, the rest dilation.
    assert info.reductions == [min(r, output_stride) for r in plain.feature_info.reductions]
    assert info.dilations == [max(r // output_stride, 1) for r in plain.feature_info.reductions]
    assert info.names == plain.feature_info.names and info.channels == plain.feature_info.channels
    assert ODD_SIZES and all(h % 2 and w % 2 and h != w for h, w in ODD_SIZES)
    for h, w in ODD_SIZES:
        with torch.no_grad():
            levels = dilated(torch.randn(1, 3, h, w))
        real = [(t.shape[1], t.shape[2], t.shape[3]) for t in levels]
        assert real == info.shapes(h, w)
        with torch.no_grad():
            undilated = [tuple(t.shape[2:]) for t in plain(torch.randn(1, 3, h, w))]
        for k, f in enumerate(info):  # a dilated level has its predecessor's size; the others are unchanged
            assert real[k][1:] == (real[k - 1][1:] if f.dilation > 1 else undilated[k])
        for part in (info[1:], info[2:], info[:3], info.select([info.names[0], info.names[-1]])):
            assert part.sizes(h, w) == [real[info.names.index(n)][1:] for n in part.names]


@pytest.mark.parametrize(("output_stride", "dilate"), [(8, [False, True, True]), (16, [False, False, True])])
def test_dilated_resnet50_equals_torchvisions_replace_stride_with_dilation_bit_for_bit(output_stride, dilate):
    ours = randomise(uninitialised(build_torchvision, "resnet50"))
    reference = uninitialised(torchvision.models.resnet50, replace_stride_with_dilation=dilate)
    reference.load_state_dict(ours.state_dict(), strict=True)
    pyramid = backbone(ours, output_stride=output_stride)
    convs = lambda m: [(n, c.stride, c.dilation, c.padding) for n, c in m.named_modules()  # noqa: E731
                       if isinstance(c, nn.Conv2d)]
    assert convs(pyramid.body) == convs(reference.eval())
    seen: dict[str, torch.Tensor] = {}
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        getattr(reference, stage).register_forward_hook(lambda m, i, o, s=stage: seen.__setitem__(s, o))
    x = torch.randn(2, 3, 67, 45, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        levels = pyramid(x)
        reference(x)
    assert seen["layer4"].std() > 0, "a trivial map would prove nothing"
    for k, stage in enumerate(("layer1", "layer2", "layer3", "layer4"), start=1):
        assert torch.equal(levels[k], seen[stage]), stage


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "mobilenet_v3_small"])
def test_mobilenet_v3_at_output_stride_16_equals_torchvisions_dilated_bit_for_bit(name):
    ours = randomise(uninitialised(build_torchvision, name))
    reference = uninitialised(torchvision.models.get_model, name, weights=None, dilated=True)
    reference.load_state_dict(ours.state_dict(), strict=True)
    pyramid = backbone(ours, output_stride=16)
    convs = lambda m: [(n, c.stride, c.dilation, c.padding) for n, c in m.named_modules()  # noqa: E731
                       if isinstance(c, nn.Conv2d)]
    assert convs(pyramid.body) == convs(reference.eval())
    x = torch.randn(2, 3, 71, 53, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        deepest = pyramid(x)[-1]
        own = reference.features(x)
    assert own.std() > 0 and torch.equal(deepest, own)


# torchvision's ResNet._make_layer(dilate=True), written out for the basic block (which torchvision
# refuses: vision#4801): the first block of a dilated stage keeps the previous dilation and loses its
# stride (conv1 and the 1x1 projection), the later blocks use the new dilation; a 3x3 conv's padding
# equals its dilation.
RESNET18_RULE = {
    8: {"layer3.0": 1, "layer3.1": 2, "layer4.0": 2, "layer4.1": 4},
    16: {"layer3.0": 1, "layer3.1": 1, "layer4.0": 1, "layer4.1": 2},
}


@pytest.mark.parametrize("output_stride", [8, 16])
@pytest.mark.parametrize("source", ["torchvision", "package"])
def test_basic_block_resnet_follows_torchvisions_dilation_rule(output_stride, source):
    model = uninitialised(torchvision.models.resnet18 if source == "torchvision" else package_resnet18)
    body = backbone(model, output_stride=output_stride).body
    unstrided = {8: ("layer3.0", "layer4.0"), 16: ("layer4.0",)}[output_stride]
    for block, d in RESNET18_RULE[output_stride].items():
        b = body.get_submodule(block)
        assert b.conv1.dilation == b.conv2.dilation == (d, d) and b.conv1.padding == b.conv2.padding == (d, d)
        assert b.conv1.stride == ((1, 1) if block in unstrided or block.endswith(".1") else (2, 2))
        if block.endswith(".0"):
            assert b.downsample[0].stride == ((1, 1) if block in unstrided else (2, 2))
            assert b.stride == (1 if block in unstrided else 2)
    assert all(c.dilation == (1, 1) for n, c in body.named_modules()
               if isinstance(c, nn.Conv2d) and not n.startswith(("layer3", "layer4")))


def test_the_callers_model_is_left_as_it_was():
    model = randomise(uninitialised(build_torchvision, "resnet18"))
    convs = [(c.stride, c.dilation, c.padding) for c in model.modules() if isinstance(c, nn.Conv2d)]
    x = torch.randn(1, 3, 65, 47)
    with torch.no_grad():
        before = model(x)
        pyramid = backbone(model, output_stride=8)
        after = model(x)
    assert [(c.stride, c.dilation, c.padding) for c in model.modules() if isinstance(c, nn.Conv2d)] == convs
    assert torch.equal(before, after)
    assert pyramid.body is not model and not {id(p) for p in pyramid.parameters()} & {id(p) for p in model.parameters()}
    assert backbone(model, output_stride=8).feature_info == pyramid.feature_info  # twice: the model is unchanged


def test_the_package_resnet_copy_declares_its_dilated_levels():
    pyramid = backbone(uninitialised(package_resnet18), output_stride=8)
    assert pyramid.body.feature_info == pyramid.feature_info
    assert pyramid.body.feature_info.reductions == [2, 4, 8, 8, 8]


def test_a_refused_plan_changes_nothing():
    model = uninitialised(build_torchvision, "resnet18")
    model.layer4[1].conv2.padding = (0, 0)  # a conv that would not keep its side once dilated
    convs = [(c.stride, c.dilation, c.padding) for c in model.modules() if isinstance(c, nn.Conv2d)]
    with pytest.raises(NotImplementedError, match="layer4|conv2"):
        Pyramid(model, resnet_steps(model), "ResNet", output_stride=8)
    assert [(c.stride, c.dilation, c.padding) for c in model.modules() if isinstance(c, nn.Conv2d)] == convs


# Every depth of ResNet and the big members, on the meta device: declared = a meta forward at an odd size.
@pytest.mark.parametrize("output_stride", [16, 8])
@pytest.mark.parametrize("name", ["resnet34", "resnet101", "resnet152", "mobilenet_v3_large", "efficientnet_v2_s",
                                  "regnet_y_400mf", "convnext_small"])
def test_big_members_on_the_meta_device(name, output_stride):
    pyramid = backbone(build_on_meta(name), output_stride=output_stride)
    assert pyramid.feature_info.reductions[-1] == output_stride
    outs = meta_call(pyramid, torch.empty(1, 3, 225, 161, device="meta"))
    assert [tuple(o.shape[1:]) for o in outs] == pyramid.feature_info.shapes(225, 161)


@pytest.mark.parametrize("kernel", [2, 4])
@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("size", [(15, 16), (9, 9)])
def test_same_padded_conv_equals_torchs_same_padding_bit_for_bit(kernel, dilation, size):
    import warnings

    from backbones_tutorial.pyramids.dilation import SamePaddedConv2d

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(4, 6, kernel, padding="same", dilation=dilation).eval()
    ours = SamePaddedConv2d(4, 6, kernel, padding="same", dilation=dilation).eval()
    ours.load_state_dict(conv.state_dict(), strict=True)
    x = torch.randn(2, 4, *size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own "same" with an even kernel warns (once) here
        want = conv(x)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")  # and ours does not
        got = ours(x)
    assert got.shape == want.shape == (2, 6, *size) and torch.equal(got, want)


def test_importing_the_package_leaves_the_warning_filters_alone():
    """The dilated ConvNeXt's even-kernel "same" padding no longer needs a process-wide filter."""
    import subprocess
    import sys

    # torch, numpy and sympy add filters of their own when imported: take "before" after them
    code = ("import warnings, torch, torchvision; before = list(warnings.filters); "
            "import backbones_tutorial.pyramids.backbone, backbones_tutorial.pyramids.dilation; "
            "assert warnings.filters == before, [f for f in warnings.filters if f not in before]")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_dilated_convnext_runs_without_a_warning():
    import warnings

    torch.manual_seed(0)
    pyramid = backbone(build_torchvision("convnext_tiny"), output_stride=8).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        maps = pyramid(torch.randn(1, 3, 67, 75))
    assert [m.shape[-2:] for m in maps] == [torch.Size(s) for s in pyramid.feature_info.sizes(67, 75)]
