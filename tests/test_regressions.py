"""The silent bugs found by the review of issue 19, each pinned by a test that failed before its fix."""

import importlib
import types

import pytest
import torch
import torch.fx
import torchvision
from conftest import LastThree

from backbones_tutorial.display import Table
from backbones_tutorial.extractors.methods import HookExtractor, build_extractor
from backbones_tutorial.pyramids.backbone import backbone
from backbones_tutorial.pyramids.fpn import PyramidFPN, ResNetFPN
from backbones_tutorial.pyramids.resnet import resnet_features


def test_a_sliced_swin_pyramid_declares_the_sizes_the_model_computes():
    """Before: ``feature_info[1:]`` of Swin gave 29/15/8 at 225 x 300, one ceil from the input,
    where the model gives 28/14/7 (its stem floors, then each merging rounds up)."""
    torch.manual_seed(0)
    pyramid = backbone("swin_t").eval()
    with torch.no_grad():
        outs = pyramid(torch.randn(1, 3, 225, 300))
    real = [tuple(o.shape[-2:]) for o in outs]
    assert [h for h, _ in real] == [56, 28, 14, 7]  # floor(225/4), then ceil halvings: hand arithmetic
    info = pyramid.feature_info
    assert info[1:].sizes(225, 300) == real[1:]
    assert info.select(["features.5", "features.7"]).sizes(225, 300) == [real[2], real[3]]


def test_the_subclass_extractor_keeps_a_dilated_resnets_dilation():
    """Before: the subclass method rebuilt the ResNet from its block counts alone, so on a dilated
    ResNet50 it returned 2 x 2 maps at 64 x 64 where the model computes 8 x 8, with no error."""
    model = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True]).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want = build_extractor("wrapper", model, ["layer4"])(x)[0]  # calls the model's own modules
        got = build_extractor("subclass", model, ["layer4"])(x)[0]
    assert want.shape[-2:] == (8, 8)  # 64 / 8: layer3 and layer4 dilated instead of strided
    assert torch.equal(got, want)


@pytest.mark.parametrize("build", [lambda: backbone("resnet18"), lambda: ResNetFPN(resnet_features(18))],
                         ids=["backbone-resnet18", "ResNetFPN"])
def test_pyramids_trace_with_torch_fx(build):
    """Before: ``symbolic_trace`` failed with "got Proxy": the input checks were not ``torch.fx.wrap``-ed."""
    model = build().eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(1, 3, 65, 97)
    with torch.no_grad():
        want, got = model(x), traced(x)
    want, got = (list(want.values()), list(got.values())) if isinstance(want, dict) else (want, got)
    assert len(got) == len(want) and all(torch.equal(a, b) for a, b in zip(got, want, strict=True))


def test_hook_extractor_refuses_a_module_named_twice_before_registering_anything():
    """Before: accepted, then a KeyError at the first forward (the second pop found nothing)."""
    model = torchvision.models.resnet18(weights=None)
    with pytest.raises(ValueError, match=r"'layer1' is named twice.*distinct"):
        HookExtractor(model, ["layer1", "layer1"])
    assert all(not m._forward_hooks for m in model.modules())  # nothing was registered


def test_an_empty_table_prints_its_header_and_caption():
    """Before: printing a Table without rows raised TypeError."""
    table = Table(("level", "shape"), (), "no levels")
    assert "level" in repr(table) and "no levels" in repr(table)
    assert "level" in table._repr_html_()


@pytest.mark.parametrize("module", ["backbones_tutorial.extractors.freeze", "backbones_tutorial.models.resnet"])
def test_importing_a_module_gives_the_module_even_where_a_function_has_its_name(module):
    """Before: ``import backbones_tutorial.freeze as m`` gave the function ``freeze``."""
    m = importlib.import_module(module)
    assert isinstance(m, types.ModuleType) and m.__name__ == module
    exec(f"import {module} as alias", globals_ := {})
    assert globals_["alias"] is m


def test_every_module_that_checks_its_input_registers_the_check_with_torch_fx():
    """The convention behind the tracing test: ``torch.fx.wrap`` patches the calling module's globals,
    so each module whose code calls a check from ``forward`` must register it itself."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1] / "backbones_tutorial"
    for path in root.rglob("*.py"):
        text = path.read_text()
        for check in ("check_batch", "check_pyramid", "check_shortcut"):
            if path.name != "checks.py" and re.search(rf"^\s+(?:\w+ = )?{check}\(", text, re.M):
                assert f'torch.fx.wrap("{check}")' in text, f"{path.relative_to(root)} calls {check} without fx.wrap"


def test_resnet_feature_info_reads_the_dilation_of_a_resnet_dilated_by_torchvision():
    """Before: a ResNet50 built with ``replace_stride_with_dilation`` got the right reductions but
    no dilation. Expected values: torchvision's rule, layer3 and layer4 at dilations 2 and 4."""
    from backbones_tutorial.models.resnet import resnet_feature_info
    from backbones_tutorial.pyramids.resnet import ResNetBackbone

    model = torchvision.models.resnet50(weights=None, replace_stride_with_dilation=[False, True, True]).eval()
    info = resnet_feature_info(model)
    assert info.reductions == [2, 4, 8, 8, 8] and info.dilations == [1, 1, 1, 2, 4]
    assert info == backbone("resnet50", output_stride=8).feature_info  # the package's own dilation agrees
    with torch.no_grad():
        maps = ResNetBackbone(model)(torch.randn(1, 3, 65, 97))
    info.check(maps, 65, 97)


# Found by the review of stop 25: level metadata that disagreed with the maps or lost a level's dilation.


@pytest.mark.parametrize("image_size", [240, 208])
def test_a_vit_with_an_odd_token_grid_declares_strides_4_to_32(image_size):
    """Before: each reduction was image_size // side, so the max-pooled level of a 15 x 15 grid (240 / 16)
    was declared /34 and sizes() refused it. ViTDet's simple pyramid has strides 4, 8, 16 and 32
    (Li et al., 2022, figure 2 (c)); the pool floors the odd grid (15 -> 7, 13 -> 6)."""
    torch.manual_seed(0)
    vit = torchvision.models.VisionTransformer(image_size=image_size, patch_size=16, num_layers=1, num_heads=2,
                                               hidden_dim=32, mlp_dim=64)
    pyramid = backbone(vit).eval()
    assert pyramid.feature_info.reductions == [4, 8, 16, 32]
    with torch.no_grad():
        maps = pyramid(torch.randn(1, 3, image_size, image_size))
    grid = image_size // 16
    assert [m.shape[-1] for m in maps] == [4 * grid, 2 * grid, grid, grid // 2]  # by hand
    pyramid.feature_info.check(maps, image_size, image_size)


def test_an_fpn_on_a_sliced_swin_pyramid_declares_the_sizes_it_computes():
    """Before: PyramidFPN rebuilt its levels from the slice's reductions alone, losing the chain: one
    ceil from the input, 29/15/8 rows at 225 where Swin computes 28/14/7 (floor at the stem, then ceil)."""
    torch.manual_seed(0)
    fpn = PyramidFPN(LastThree(backbone("swin_t")), 8).eval()
    with torch.no_grad():
        maps = fpn(torch.randn(1, 3, 225, 97))
    assert [tuple(m.shape[-2:]) for m in maps] == [(28, 12), (14, 6), (7, 3)]  # floor(225/4)=56, then ceil halvings
    fpn.feature_info.check(maps, 225, 97)


def test_fpn_levels_keep_the_dilation_of_the_levels_they_sit_on():
    """Before: ResNetFPN and PyramidFPN declared dilation 1 everywhere, and a ResNetFeatures built with
    replace_stride_with_dilation declared none either. torchvision's rule at output stride 8: layer3 and
    layer4 dilated 2 and 4 (DeepLab's multi-grid aside)."""
    dilated = resnet_features(50, replace_stride_with_dilation=[False, True, True])
    assert dilated.feature_info.dilations == [1, 1, 1, 2, 4]
    assert ResNetFPN(dilated, 8).feature_info.dilations == [1, 1, 2, 4]
    assert PyramidFPN(backbone("resnet18", output_stride=8), 8).feature_info.dilations == [1, 1, 1, 2, 4]
