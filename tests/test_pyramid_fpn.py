from collections import OrderedDict

import pytest
import torch
import torchvision
from conftest import uninitialised
from torchvision.models.feature_extraction import create_feature_extractor

from backbones_tutorial.pyramids.fpn import FPN, NaiveFPN, ResNetFPN
from backbones_tutorial.pyramids.resnet import ResNetBackbone, ResNetFeatures, resnet_features
from backbones_tutorial.registry import MODELS

DEPTHS = [18, 34, 50, 101, 152]
RETURN_NODES = {"relu": "stem", "layer1": "layer1", "layer2": "layer2", "layer3": "layer3", "layer4": "layer4"}


@pytest.mark.parametrize("depth", DEPTHS)
def test_pyramid_subclass_loads_torchvision_strictly_and_matches_fx_reference(shared_torchvision, depth):
    tv = shared_torchvision(f"resnet{depth}")
    ours = uninitialised(resnet_features, depth).eval()
    ours.load_state_dict(tv.state_dict(), strict=True)  # every parameter and buffer set
    reference = create_feature_extractor(tv, RETURN_NODES)  # torchvision's own torch.fx cut
    x = torch.randn(1, 3, 35, 47)  # odd: every stride-2 layer rounds up
    with torch.no_grad():
        got, want = ours(x), list(reference(x).values())
        wrapped = ResNetBackbone(tv).eval()(x)
    assert len(got) == 5
    for a, b, c in zip(got, want, wrapped, strict=True):
        assert torch.equal(a, b) and torch.equal(c, b)


EXTRACTORS = {  # the registry's extractors, and the wrapper
    **{name: MODELS[name].build for name in
       ("resnet18_features", "resnet50_features", "vgg16_blocks", "resnet34_to_layer3", "resnet50_fpn")},
    "resnet34_backbone": lambda: ResNetBackbone(torchvision.models.resnet34(weights=None)),
}


@pytest.mark.parametrize("name", EXTRACTORS)
@pytest.mark.parametrize("size", [(96, 64), (97, 65)])  # multiples of 32, and odd sides
def test_feature_info_matches_real_outputs(shared_model, name, size):
    """Like timm's feature_info tests: the declared channels and strides are what comes out."""
    model = shared_model(name) if name in MODELS else EXTRACTORS[name]().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size))
    outs = out if isinstance(out, list) else [out]
    assert len(outs) == len(model.feature_info)
    for t, info, hw in zip(outs, model.feature_info, model.feature_info.sizes(*size), strict=True):
        assert t.shape[1] == info.channels
        assert t.shape[-2:] == hw  # the one size rule: ceil for ResNet, floor for VGG


def test_resnet_feature_info_declares_the_expected_channels_and_strides():
    # He et al. (2015), Table 1: 64/128/256/512 channels (x4 for bottlenecks), strides 4..32.
    with torch.device("meta"):
        r18, r50 = resnet_features(18), resnet_features(50)
    assert [(f.channels, f.reduction) for f in r18.feature_info] == [
        (64, 2), (64, 4), (128, 8), (256, 16), (512, 32)]
    assert [(f.channels, f.reduction) for f in r50.feature_info] == [
        (64, 2), (256, 4), (512, 8), (1024, 16), (2048, 32)]


@pytest.mark.parametrize("factory", ["wide_resnet50_2", "resnext50_32x4d"])
def test_resnet_feature_info_reads_the_wide_and_resnext_variants_as_their_outputs_are(factory):
    # Chapter 4 says the projection-based reading works for these too: compare with a real forward pass.
    from backbones_tutorial.models.resnet import resnet_feature_info

    with torch.device("meta"):  # shapes only: no memory, no initialisation
        model = getattr(torchvision.models, factory)(weights=None).eval()
        extractor = create_feature_extractor(model, return_nodes=RETURN_NODES)
        outs = extractor(torch.zeros(1, 3, 65, 65))
    info = resnet_feature_info(model)
    assert [(f.name, f.channels, hw) for f, hw in zip(info, info.sizes(65, 65), strict=True)] == [
        (name, t.shape[1], tuple(t.shape[-2:])) for name, t in outs.items()]


@pytest.mark.parametrize("size", [(64, 64), (65, 65), (97, 129)])
def test_fpn_equals_torchvision_fpn_with_the_same_weights(shared_model, size):
    torch.manual_seed(0)
    channels = [256, 512, 1024, 2048]
    ref = torchvision.ops.FeaturePyramidNetwork(channels, 256).eval()
    ours = FPN(channels, 256).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    body = shared_model("resnet50_features")
    with torch.no_grad():
        c = body(torch.randn(1, 3, *size))[1:]
        got = ours(c)
        want = list(ref(OrderedDict((str(i), t) for i, t in enumerate(c))).values())
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_naive_fpn_fails_at_odd_size_and_the_exact_one_does_not():
    body = resnet_features(18).eval()
    channels = [f.channels for f in body.feature_info[1:]]
    with torch.no_grad():
        c = body(torch.randn(1, 3, 225, 225))[1:]
        with pytest.raises(RuntimeError, match="must match the size"):
            NaiveFPN(channels, 64)(c)
        assert [p.shape[-1] for p in FPN(channels, 64)(c)] == [57, 29, 15, 8]


@pytest.mark.parametrize("side", [500, 225])
def test_naive_fpn_fails_where_a_finer_level_is_odd_and_works_once_the_input_is_padded_to_32(side):
    # By hand: ceil-halving 500 gives C2..C5 = 125, 63, 32, 16 (C2 odd); 225 gives 57, 29, 15, 8.
    body = resnet_features(18).eval()
    channels = [f.channels for f in body.feature_info[1:]]
    padded = -(-side // 32) * 32  # the next multiple of 32: 512 and 256
    with torch.no_grad():
        c = body(torch.randn(1, 3, side, side))[1:]
        with pytest.raises(RuntimeError, match="must match the size"):
            NaiveFPN(channels, 8)(c)
        c = body(torch.nn.functional.pad(torch.randn(1, 3, side, side), (0, padded - side, 0, padded - side)))[1:]
        assert [p.shape[-1] for p in NaiveFPN(channels, 8)(c)] == [padded // 4, padded // 8, padded // 16, padded // 32]


def test_fpn_rejects_bad_configuration_and_inputs():
    with pytest.raises(ValueError, match="in_channels_list"):
        FPN([], 256)
    with pytest.raises(ValueError, match="out_channels"):
        FPN([64, 128], 0)
    fpn = FPN([64, 128], 32)
    with pytest.raises(ValueError, match="expects 2 feature maps"):
        fpn([torch.randn(1, 64, 8, 8)])
    with pytest.raises(ValueError, match=r"level 1 expects \(B, 128, H, W\)"):
        fpn([torch.randn(1, 64, 8, 8), torch.randn(1, 127, 4, 4)])


def test_resnet_fpn_drops_the_head_and_checks_its_body(shared_model, shared_torchvision):
    model = shared_model("resnet50_fpn")
    assert not hasattr(model.body, "fc") and not hasattr(model.body, "avgpool")
    with pytest.raises(TypeError, match="ResNetFeatures"):
        ResNetFPN(shared_torchvision("resnet18"))  # a plain torchvision ResNet: refused before any change
    with pytest.raises(TypeError, match="torchvision.models.ResNet"):
        ResNetBackbone(torch.nn.Conv2d(3, 3, 1))


def test_pyramid_subclass_rejects_unbatched_input():
    with pytest.raises(ValueError, match="4-D batch"):
        resnet_features(18)(torch.randn(3, 64, 64))
    assert isinstance(resnet_features(18), ResNetFeatures)
