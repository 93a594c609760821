"""The compatibility matrix, proven cell by cell on a small ResNet of the same architecture as
the committed ResNet50 one (Bottleneck blocks, one per stage) at an odd input size, and every
"no" reproduced in a few lines without the package. The compiles and ONNX take tens of seconds
per cell on 2 cores: marked ``compilers`` (``make test-compilers``, which CI runs after ``make test``)."""

import copy
import pathlib

import pytest
import torch
from conftest import random_bn_statistics
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.models.resnet import Bottleneck, ResNet

from backbones_tutorial.bench import compat, results
from backbones_tutorial.extractors.methods import METHODS, HookExtractor

COMMITTED = pathlib.Path(__file__).resolve().parents[1] / "book" / "data" / "bench.json"
# The cells that fail, each with its minimal reproduction below; every other cell works.
EXPECTED_NO = {("fx", "deepcopy + EMA"), ("hooks", "deepcopy + EMA"), ("hooks", "torchscript")}
SLOW = ("compile", "compile fullgraph", "onnx")


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    model = ResNet(Bottleneck, [1, 1, 1, 1]).eval()
    random_bn_statistics(model, seed=1)  # a wrong mode or weight shows in the values
    return model


@pytest.fixture(scope="module")
def x():
    return torch.randn(1, 3, 53, 47, generator=torch.Generator().manual_seed(2))  # odd H and W


def _check(cell):
    want_no = (cell.method, cell.tool) in EXPECTED_NO
    assert cell.works != want_no, cell
    if cell.ran:
        assert cell.max_abs_diff is not None and cell.tolerance >= 0


@pytest.mark.parametrize("tool", [t for t in compat.TOOLS if t not in SLOW])
@pytest.mark.parametrize("method", METHODS)
def test_each_cell_of_the_matrix_on_a_small_resnet(small, x, method, tool):
    _check(compat.cell(method, tool, small, x))


@pytest.mark.compilers
@pytest.mark.parametrize("tool", SLOW)
@pytest.mark.parametrize("method", METHODS)
def test_each_compile_and_onnx_cell_on_a_small_resnet(small, x, method, tool):
    _check(compat.cell(method, tool, small, x))


def test_the_committed_resnet50_matrix_gives_the_same_answers(small):
    """The matrix committed by the benchmark, on ResNet50, agrees with the small instance's."""
    record = results.load_runs(COMMITTED)[0].compatibility
    cells = compat.load_cells(record)
    assert record["model"] == "resnet50" and record["input"][2] % 2 == 1
    assert [(c.method, c.tool) for c in cells] == [(m, t) for m in METHODS for t in compat.TOOLS]
    assert {(c.method, c.tool) for c in cells if not c.works} == EXPECTED_NO


def test_a_cell_leaves_the_model_alone_and_names_bad_arguments(small, x):
    before = {k: v.clone() for k, v in small.state_dict().items()}
    compat.cell("hooks", "channels_last + bf16", small, x)
    assert all(torch.equal(before[k], v) for k, v in small.state_dict().items())
    assert not any(m._forward_hooks for m in small.modules())
    with pytest.raises(ValueError, match="unknown compatibility tool 'tensorrt'; valid choices: 'eager'"):
        compat.cell("fx", "tensorrt", small, x)
    with pytest.raises(ValueError, match="unknown extraction method 'slicing'"):
        compat.cell("slicing", "eager", small, x)
    with pytest.raises(ValueError, match=r"x must be a \(B, 3, H, W\) batch, got shape \(3, 8, 8\)"):
        compat.cell("fx", "eager", small, x[0, :, :8, :8])


# Minimal reproductions of every "no", with torch and torchvision alone.

def test_repro_deepcopy_of_an_fx_extractor_comes_back_in_training_mode(small, x):
    """create_feature_extractor's module keeps a train and an eval graph; its deepcopy is in
    training mode, so BatchNorm uses (and updates) batch statistics until you call .eval()."""
    extractor = create_feature_extractor(copy.deepcopy(small), {"layer4": "out"}).eval()
    ema = copy.deepcopy(extractor)
    assert not extractor.training and ema.training
    with torch.no_grad():
        assert not torch.equal(ema(x)["out"], extractor(x)["out"])
    fixed = copy.deepcopy(extractor).eval()  # the fix: eval() on the copy, before its first call
    with torch.no_grad():
        assert torch.equal(fixed(x)["out"], extractor(x)["out"])


def test_repro_a_deepcopy_of_hooks_writes_into_the_originals_store(small, x):
    """The hook functions are copied by reference: the copy's hooks still fill the dict of the
    original, and the copy finds nothing in its own."""
    model = copy.deepcopy(small)
    store = {}
    handle = model.layer2.register_forward_hook(lambda mod, args, out: store.__setitem__("layer2", out))
    twin, twin_store = copy.deepcopy(model), {}
    with torch.no_grad():
        twin(x)
    assert "layer2" in store and twin_store == {}
    handle.remove()
    hooked = HookExtractor(copy.deepcopy(small), ["layer2"])
    with pytest.raises(KeyError, match="layer2"), torch.no_grad():
        copy.deepcopy(hooked)(x)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")  # the repro needs it
def test_repro_torchscript_refuses_a_python_forward_hook(small):
    """A hook that stores the output, as every extraction hook does: TorchScript cannot compile it."""
    model, store = copy.deepcopy(small), {}

    def hook(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
        store["layer2"] = output

    model.layer2.register_forward_hook(hook)
    with pytest.raises(RuntimeError, match="Hook 'hook' on module 'Sequential'"):
        torch.jit.script(model)


def test_a_cell_is_shown_the_same_way_in_both_tables():
    """``ToolResult.shown``, the one format of the methods' and the families' tables."""
    assert compat.ToolResult(True, 3.5e-05, 1.9e-03, "").shown == "yes 3.5e-05<=1.9e-03"
    assert compat.ToolResult(True, 0.0, 0.0, "").shown == "yes 0e+00"  # bit for bit: no tolerance shown
    assert compat.ToolResult(True, 2.0e-1, 1.0e-1, "").shown == "no (differs) 2.0e-01<=1.0e-01"
    assert compat.ToolResult(False, None, 0.1, "RuntimeError: got Proxy").shown == "no (RuntimeError)"
