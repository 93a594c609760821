"""Swin's window attention without size-dependent Python branches (``pyramids.windows``): the same
maps as torchvision's, bit for bit, at sizes that pad or not, shift or not; swapped in by
``backbone()`` without changing a state dict or a map; and what it buys, a Swin pyramid that
``torch.export`` exports once for every size with two windows or more a side (the ONNX model, with
no guards, in ``test_deploy.py``)."""

from __future__ import annotations

import copy

import pytest
import torch
from torchvision import models as tvm
from torchvision.models import swin_transformer as st

from backbones_tutorial.pyramids.backbone import backbone
from backbones_tutorial.pyramids.windows import (
    AnySizeWindowAttention,
    AnySizeWindowAttentionV2,
    any_size_windows,
    window_attention,
)

# (H, W) of a stage's map, window 7: one window a side (torchvision skips the shift there), a
# multiple of the window (no padding), and sides that pad; square and not.
MAP_SIZES = ((5, 6), (7, 7), (14, 14), (15, 13), (8, 22), (30, 8), (21, 35), (1, 9))


def _block(cls, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    kwargs = {"stochastic_depth_prob": 0.0}
    if cls is st.SwinTransformerBlockV2:
        kwargs["attn_layer"] = st.ShiftedWindowAttentionV2
    return cls(dim=8, num_heads=2, window_size=[7, 7], shift_size=[3, 3], **kwargs).eval()


@pytest.mark.parametrize("cls", [st.SwinTransformerBlock, st.SwinTransformerBlockV2])
@pytest.mark.parametrize("size", MAP_SIZES)
def test_the_attention_equals_torchvisions_bit_for_bit(cls, size):
    block = _block(cls)
    swapped = copy.deepcopy(block)
    assert any_size_windows(swapped) == 1
    x = torch.randn(2, *size, 8)
    with torch.no_grad():
        assert torch.equal(swapped(x), block(x))


@pytest.mark.parametrize("size", [(5, 6), (15, 13)])  # one window (no shift, no mask), and shifted
def test_under_bfloat16_autocast_too(size):
    """The mask is added in the attention's dtype, so adding zeros where torchvision adds no mask
    changes no dtype: the same bfloat16-autocast result, bit for bit."""
    block = _block(st.SwinTransformerBlock)
    swapped = copy.deepcopy(block)
    any_size_windows(swapped)
    x = torch.randn(2, *size, 8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        want, got = block(x), swapped(x)
    assert got.dtype == want.dtype and torch.equal(got, want)


def test_the_function_takes_torchvisions_arguments_and_gives_its_result():
    attn = _block(st.SwinTransformerBlock).attn
    x = torch.randn(1, 15, 13, 8)
    args = (x, attn.qkv.weight, attn.proj.weight, attn.get_relative_position_bias(), attn.window_size,
            attn.num_heads)
    kwargs = {"shift_size": attn.shift_size, "qkv_bias": attn.qkv.bias, "proj_bias": attn.proj.bias,
              "training": False}
    with torch.no_grad():
        assert torch.equal(window_attention(*args, **kwargs), st.shifted_window_attention(*args, **kwargs))


def test_the_gradients_equal_torchvisions():
    block = _block(st.SwinTransformerBlock).train()
    swapped = copy.deepcopy(block)
    any_size_windows(swapped)
    x = torch.randn(2, 15, 13, 8)
    block(x).square().sum().backward()
    swapped(x).square().sum().backward()
    for (name, a), b in zip(block.named_parameters(), swapped.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-7, msg=name)


def test_the_swap_keeps_modules_parameters_and_state_dict_and_skips_other_classes():
    torch.manual_seed(0)
    model = tvm.swin_t().eval()
    parameters = [id(p) for p in model.parameters()]
    keys = list(model.state_dict())

    class Custom(st.ShiftedWindowAttention):  # somebody's own subclass: theirs to keep
        pass

    custom = model.features[1][0].attn
    custom.__class__ = Custom
    assert any_size_windows(model) == 11  # Swin-T's 12 blocks but the one made Custom
    assert type(model.features[1][0].attn) is Custom
    assert type(model.features[1][1].attn) is AnySizeWindowAttention
    assert [id(p) for p in model.parameters()] == parameters and list(model.state_dict()) == keys
    assert any_size_windows(model) == 0  # a second call finds nothing left to swap
    v2 = tvm.swin_v2_t()
    assert any_size_windows(v2) == 12 and type(v2.features[1][0].attn) is AnySizeWindowAttentionV2


def test_backbone_swaps_the_attention_and_the_model_computes_what_it_computed():
    torch.manual_seed(0)
    model = tvm.SwinTransformer([4, 4], 8, [2, 2, 2, 2], [1, 1, 1, 1], [7, 7]).eval()
    before = copy.deepcopy(model)
    pyramid = backbone(model)
    assert pyramid.body is model and type(model.features[1][1].attn) is AnySizeWindowAttention
    model.load_state_dict(before.state_dict(), strict=True)
    with torch.no_grad():
        for size in ((67, 71), (229, 241), (50, 300)):
            x = torch.randn(1, 3, *size)
            assert torch.equal(model(x), before(x)), size


def _small_swin_pyramid() -> torch.nn.Module:
    torch.manual_seed(0)
    return backbone(tvm.SwinTransformer([4, 4], 8, [2, 2, 2, 2], [1, 1, 1, 1], [7, 7])).eval()


def test_the_pyramid_exports_once_for_every_size_with_two_windows_a_side():
    """Patch 4 and three merges: the last stage is about H/32, two windows a side from 228 on.
    Exported at 229 x 241; bit for bit at sizes that pad differently at every stage; a size with
    one window in the last stage (226: 56, 28, 14, 7) is refused by a guard, never computed."""
    pyramid = _small_swin_pyramid()
    dynamic = {"x": {2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}}
    program = torch.export.export(copy.deepcopy(pyramid), (torch.randn(1, 3, 229, 241),),
                                  dynamic_shapes=dynamic).module()
    with torch.no_grad():
        for size in ((257, 235), (449, 230), (228, 228)):
            x = torch.randn(1, 3, *size)
            assert all(torch.equal(a, b) for a, b in zip(program(x), pyramid(x), strict=True)), size
        with pytest.raises(AssertionError, match="Guard failed"):
            program(torch.randn(1, 3, 300, 226))


def test_symbolic_tracing_records_the_attention_as_one_call():
    pyramid = _small_swin_pyramid()
    traced = torch.fx.symbolic_trace(pyramid)
    calls = [n for n in traced.graph.nodes if n.op == "call_function" and n.target is window_attention]
    assert len(calls) == 8  # two blocks in each of four stages
    x = torch.randn(1, 3, 67, 71)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(traced(x), pyramid(x), strict=True))


@pytest.mark.compilers
def test_the_onnx_model_is_right_at_every_size_one_window_a_side_included():
    """ONNX has no guards: where torchvision's attention gave wrong maps at a size whose windows
    differ from the example's (``test_deploy.py``'s repro), this one computes the shift choice in
    the graph. Exported at 229 x 241, right at sizes with one window in the last stages too."""
    import onnxruntime

    from backbones_tutorial.bench.compat import CODEGEN_RTOL

    pyramid = _small_swin_pyramid()
    dynamic = {"x": {2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}}
    program = torch.onnx.export(copy.deepcopy(pyramid), (torch.randn(1, 3, 229, 241),), dynamo=True,
                                dynamic_shapes=dynamic, verbose=False)
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    with torch.no_grad():
        for size in ((257, 235), (97, 83), (33, 47)):
            x = torch.randn(1, 3, *size)
            want = pyramid(x)
            got = [torch.from_numpy(a) for a in session.run(None, {name: x.numpy()})]
            tolerance = CODEGEN_RTOL * max(t.abs().max().item() for t in want)
            assert [g.shape for g in got] == [w.shape for w in want], size
            assert 0 <= max((g - w).abs().max().item() for g, w in zip(got, want, strict=True)) <= tolerance, size


def test_two_window_side_is_the_side_the_stages_count_by_hand():
    """Patch 4 floors, each merge rounds up: 228 gives 57, 29, 15, 8 (two 7-wide windows in the
    last stage), 227 gives 56, 28, 14, 7 (one). Swin-T has the same patch, merges and window."""
    from backbones_tutorial.pyramids.contract import pyramid_on_meta
    from backbones_tutorial.pyramids.windows import two_window_side

    assert two_window_side(_small_swin_pyramid()) == 228
    assert two_window_side(pyramid_on_meta("swin_t")) == 228
    with pytest.raises(ValueError, match="takes a Swin pyramid; Pyramid has no window attention"):
        two_window_side(backbone(tvm.resnet18()))


def test_the_deploy_sizes_give_every_swin_t_stage_two_windows():
    from backbones_tutorial.bench.deploy import CHECK_SIZES, EXPORT_SIZE
    from backbones_tutorial.pyramids.contract import pyramid_on_meta
    from backbones_tutorial.pyramids.windows import two_window_side

    side = two_window_side(pyramid_on_meta("swin_t"))
    assert all(min(size) >= side for size in (EXPORT_SIZE, *CHECK_SIZES))
