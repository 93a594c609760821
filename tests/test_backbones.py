"""backbone(): every family's pyramid has the channels and strides it declares, ends with the
model's own final feature map (ViT: its stride-16 level is the tokens, the others new modules),
shares the model's modules, carries an FPN, and refuses what it cannot do. Real forwards use the
smallest member of each family at small sizes; the big members only on the meta device."""

import functools

import pytest
import torch
import torchvision
from conftest import uninitialised
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torchvision.models import VisionTransformer

from backbones_tutorial.pyramids.backbone import backbone, build_on_meta, build_torchvision, new_parameters
from backbones_tutorial.pyramids.contract import level_sizes
from backbones_tutorial.pyramids.fpn import PyramidFPN
from backbones_tutorial.pyramids.probe import meta_call
from backbones_tutorial.registry import PYRAMIDS
from backbones_tutorial.shapes.claims import CLAIMS

SMALLEST = ["resnet18", "vgg16", "convnext_tiny", "efficientnet_b0", "mobilenet_v3_small", "regnet_x_400mf", "swin_t"]
HEAD_POOL = "avgpool"  # what every CNN family (and Swin) pools before its classifier


def tiny_vit() -> VisionTransformer:
    """A ViT with 16x16 patches and a small width: the same code path as vit_b_16, fast."""
    return VisionTransformer(image_size=64, patch_size=16, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)


def randomise(model: nn.Module) -> nn.Module:
    """Random values without the cost of each family's initialisation: weights ~ N(0, 2/fan_in),
    vectors (norm scales, biases, running variances) in [0.5, 1.5], so no map fades to zero."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if not t.is_floating_point():
                t.zero_()
            elif t.dim() > 1:
                t.copy_(torch.randn(t.shape, generator=g) * (2 / t[0].numel()) ** 0.5)
            else:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
    return model.eval()


@functools.cache
def model_and_pyramid(name: str) -> tuple[nn.Module, nn.Module]:
    model = randomise(tiny_vit() if name == "tiny_vit" else build_on_meta(name).to_empty(device="cpu"))
    return model, backbone(model)


def final_feature_map(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the model's own forward hands its head: the input of its pooling (CNNs, Swin), or the
    encoder's patch tokens (ViT), captured with a hook on an unmodified forward."""
    seen = []
    if isinstance(model, VisionTransformer):
        hook = model.encoder.register_forward_hook(lambda m, i, out: seen.append(out[:, 1:]))
    else:
        hook = getattr(model, HEAD_POOL).register_forward_pre_hook(lambda m, i: seen.append(i[0]))
    with torch.no_grad():
        model(x)
    hook.remove()
    return seen[0]


@pytest.mark.parametrize("name", SMALLEST)
@pytest.mark.parametrize("size", [(64, 96), (65, 47)], ids=["64x96", "65x47"])
def test_levels_have_the_declared_channels_and_strides(name, size):
    """At a multiple of 32 and at an odd size (224 itself: the claims, tests/test_claims.py)."""
    _model, pyramid = model_and_pyramid(name)
    with torch.no_grad():
        levels = pyramid(torch.randn(1, 3, *size))
    info = pyramid.feature_info
    assert [t.shape[1] for t in levels] == info.channels
    assert [t.shape[2:] for t in levels] == [torch.Size(hw) for hw in level_sizes(info, *size)]
    if size[0] % 32 == 0:  # a multiple of every stride: each level is exactly H/r (arithmetic by hand)
        assert [tuple(t.shape[2:]) for t in levels] == [(size[0] // r, size[1] // r) for r in info.reductions]
    assert all(t.dim() == 4 for t in levels)  # NCHW, Swin's channels-last stages included
    assert info.reductions[-1] == 32 and len(set(info.reductions)) == len(info.reductions)


@pytest.mark.parametrize("name", SMALLEST)
def test_deepest_level_is_the_models_own_final_feature_map_bit_for_bit(name):
    """Every family but ViT (whose deepest level is a new module's output: the next test)."""
    model, pyramid = model_and_pyramid(name)
    x = torch.randn(2, 3, 65, 47, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        levels = pyramid(x)
    own = final_feature_map(model, x)
    assert torch.isfinite(own).all() and own.std() > 0, "a trivial map would prove nothing"
    assert levels[-1].shape == own.shape and torch.equal(levels[-1], own)


def test_vit_stride_16_level_is_the_tokens_and_the_deepest_a_max_pool_of_them():
    """ViT: the stride-16 level is the encoder's patch tokens laid out as a map, bit for bit; the
    deepest (stride 32) is not the model's: a 2x2 max-pool of that level."""
    model, pyramid = model_and_pyramid("tiny_vit")
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        levels = pyramid(x)
    own = final_feature_map(model, x)
    b, n, d = own.shape
    own = own.transpose(1, 2).reshape(b, d, 4, 4)  # 64 / 16 = 4 tokens a side
    assert torch.isfinite(own).all() and own.std() > 0, "a trivial map would prove nothing"
    assert pyramid.feature_info.reductions == [4, 8, 16, 32]
    assert torch.equal(levels[2], own)
    assert levels[-1].shape != own.shape and torch.equal(levels[-1], torch.nn.functional.max_pool2d(own, 2))


def test_only_the_vit_pyramid_adds_parameters_to_the_model():
    """ViT's simple pyramid adds two transposed-conv paths (d = 768): ConvT(d, d/2, 2) + LayerNorm(d/2)
    + ConvT(d/2, d/4, 2) up to H/4, ConvT(d, d/2, 2) up to H/8; the max-pool has none. Every other
    family's pyramid only calls the model's modules."""
    d = 768
    convt = lambda i, o: i * o * 2 * 2 + o  # noqa: E731  weight (i, o, 2, 2) and bias (o)
    by_hand = convt(d, d // 2) + 2 * (d // 2) + convt(d // 2, d // 4) + convt(d, d // 2)
    assert by_hand == 2_655_936
    assert new_parameters(backbone(build_on_meta("vit_b_16"))) == by_hand
    for name in SMALLEST:
        assert new_parameters(model_and_pyramid(name)[1]) == 0, name


@pytest.mark.parametrize("name", ["resnet18", "swin_t", "tiny_vit"])
def test_pyramid_shares_the_models_modules(name):
    model, pyramid = model_and_pyramid(name)
    assert pyramid.body is model
    ours = {id(p) for p in pyramid.body.parameters()}
    assert ours == {id(p) for p in model.parameters()}  # the same tensors, not copies
    assert set(model.state_dict()) == {k.removeprefix("body.") for k in pyramid.state_dict() if k.startswith("body.")}


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_building_a_pyramid_leaves_the_models_mode_as_it_was(mode):
    model = uninitialised(build_torchvision, "mobilenet_v3_small").train(mode == "train")
    backbone(model)
    assert {m.training for m in model.modules()} == {mode == "train"}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(["resnet18", "convnext_tiny", "mobilenet_v3_small", "regnet_x_400mf", "swin_t"]),
       h=st.integers(32, 80), w=st.integers(32, 80))
def test_predicted_level_sizes_equal_measured_at_random_sizes(name, h, w):
    _model, pyramid = model_and_pyramid(name)
    with torch.no_grad():
        levels = pyramid(torch.zeros(1, 3, h, w))
    info = pyramid.feature_info
    predicted = [(c, *hw) for c, hw in zip(info.channels, level_sizes(info, h, w), strict=True)]
    assert [tuple(t.shape[1:]) for t in levels] == predicted


@pytest.mark.parametrize("name", [*SMALLEST, "tiny_vit"])
def test_the_fpn_sits_on_every_pyramid(name):
    _model, pyramid = model_and_pyramid(name)
    size = (64, 64) if name == "tiny_vit" else (49, 37)
    fpn = PyramidFPN(pyramid, out_channels=8).eval()
    with torch.no_grad():
        outs = fpn(torch.randn(1, 3, *size))
    assert [tuple(o.shape[1:]) for o in outs] == [(8, *hw) for hw in level_sizes(pyramid.feature_info, *size)]
    assert fpn.feature_info.reductions == pyramid.feature_info.reductions


# The big members and the V2 variants, on the meta device only: levels read from the modules agree
# with a meta forward at an odd size, and their widths with the papers (ConvNeXt-L: 192-1536,
# EfficientNet-B7's 1x1 head conv 2560 (4 * 640), EfficientNetV2-S: table 4 of Tan & Le 2021,
# Swin-B: C = 128, ViT-B/16: D = 768).
BIG = {"convnext_large": [192, 384, 768, 1536], "efficientnet_b7": [32, 48, 80, 224, 2560],
       "efficientnet_v2_s": [24, 48, 64, 160, 1280], "vit_b_16": [192, 384, 768, 768],
       "swin_v2_b": [128, 256, 512, 1024]}


@pytest.mark.parametrize("name", BIG)
def test_big_members_on_the_meta_device(name):
    pyramid = backbone(build_on_meta(name))
    assert pyramid.feature_info.channels == BIG[name]
    size = (224, 224) if name == "vit_b_16" else (225, 161)
    outs = meta_call(pyramid, torch.empty(1, 3, *size, device="meta"))
    assert [tuple(o.shape[1:]) for o in outs] == [(c, *hw) for c, hw in
                                                  zip(BIG[name], level_sizes(pyramid.feature_info, *size), strict=True)]


PUBLISHED = {c.model: c.total_params for c in CLAIMS if c.model.endswith("_pyramid")}


@pytest.mark.parametrize("claim_model", sorted(PUBLISHED))
def test_claimed_totals_are_torchvisions_num_params(claim_model):
    name = claim_model.removesuffix("_pyramid").split("_os")[0]  # resnet18_os8: dilation adds no parameter
    published = torchvision.models.get_model_weights(name).DEFAULT.meta["num_params"]
    extra = 2 * (4 * 768 * 384 + 384) + 2 * 384 + (4 * 384 * 192 + 192) if name == "vit_b_16" else 0
    assert PUBLISHED[claim_model] == published + extra


def test_a_fixed_size_vit_is_refused_at_other_sizes_before_torchs_assertion():
    _model, pyramid = model_and_pyramid("tiny_vit")
    with pytest.raises(ValueError, match=r"takes only 64x64 inputs .* got 80x64: resize or pad the batch to 64x64"):
        pyramid(torch.zeros(1, 3, 80, 64))
    with pytest.raises(ValueError, match="expects 3 input channels"):
        pyramid(torch.zeros(1, 1, 64, 64))


def test_unsupported_models_and_names_are_refused_naming_what_is_supported():
    with pytest.raises(TypeError, match=r"no pyramid for AlexNet; supported model classes: ResNet, VGG, ConvNeXt"):
        backbone(uninitialised(torchvision.models.alexnet))
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet20'; valid choices: resnet18, "):
        backbone("resnet20")
    with pytest.raises(TypeError, match="takes a torchvision model or one of its names, got int"):
        backbone(18)
    with pytest.raises(ValueError, match="expected 16, as in vit_b_16"):
        backbone(VisionTransformer(image_size=64, patch_size=32, num_layers=1, num_heads=1, hidden_dim=8, mlp_dim=8))


def test_every_name_is_a_torchvision_builder_of_a_supported_class():
    assert set(PYRAMIDS) <= set(torchvision.models.list_models(torchvision.models))
    assert len(PYRAMIDS) == len(set(PYRAMIDS))
