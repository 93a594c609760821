"""The compatibility matrix: each extraction method under each tool a user may apply to it.

``cell(method, tool, model, x)`` builds the method's extractor on ``model``, applies ``tool`` and
compares what it returns for ``x`` (and, for the dynamic-shape exports, for a second input of
another odd size) with the extractor run eagerly. A cell records whether it ran, the largest
absolute difference from eager and the tolerance it was judged by: a tool "works" when it runs
and stays within that tolerance. The tolerances are relative to the largest magnitude of the
eager maps: 0 for tools that must reproduce eager bit for bit, ``CODEGEN_RTOL`` for generated
float32 kernels (inductor, ONNX Runtime), ``BF16_RTOL`` for bfloat16 autocast.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
import torchvision
from torch import nn

from backbones_tutorial.bench.worker import bench_input, bench_model
from backbones_tutorial.checks import check_choice
from backbones_tutorial.display import Table
from backbones_tutorial.extractors.methods import METHODS, HookExtractor, build_extractor

__all__ = ["BF16_RTOL", "CODEGEN_RTOL", "Cell", "DEPRECATED", "EMA_DECAY", "MATRIX_SIZE", "RESHAPES", "RTOL", "RUNNERS",
           "TOOLS", "ToolResult", "cell", "load_cells", "matrix", "matrix_table", "resnet50_matrix", "try_tool",
           "works"]

TOOLS = ("eager", "compile", "compile fullgraph", "export", "onnx", "torchscript", "deepcopy + EMA",
         "100 train/eval toggles", "channels_last + bf16")
DEPRECATED = ("torchscript",)  # torch.jit.script is deprecated in favour of torch.export
CODEGEN_RTOL = 1e-4  # float32 kernels that reorder sums: a few ulps of the largest value per layer
BF16_RTOL = 0.1  # bfloat16 keeps 8 significant bits; fifty layers of rounding add up
EMA_DECAY = 0.999


@dataclass(frozen=True)
class ToolResult:
    """A tool applied to a module: did it run, how far from eager, judged by which tolerance.
    Both matrices judge by it: the extraction methods' (``Cell``) and the families' (``deploy``)."""

    ran: bool
    max_abs_diff: float | None  # None where it did not run
    tolerance: float  # absolute, for this model and input
    error: str  # the first line of the exception where it did not run, else ""

    @property
    def works(self) -> bool:
        return self.ran and self.max_abs_diff is not None and self.max_abs_diff <= self.tolerance

    @property
    def outcome(self) -> str:
        """``"yes"``, ``"no (differs)"`` or ``"no (<exception type>)"``, as the tables show it."""
        if self.works:
            return "yes"
        return "no (differs)" if self.ran else f"no ({self.error.split(':')[0]})"

    @property
    def shown(self) -> str:
        """The cell as both tables show it: the outcome, the largest difference from eager and,
        unless it is 0 (bit for bit), the tolerance: ``"yes 3.5e-05<=1.9e-03"``, ``"yes 0e+00"``."""
        if not self.ran:
            return self.outcome
        if not self.tolerance:
            return f"{self.outcome} {self.max_abs_diff:.0e}"
        return f"{self.outcome} {self.max_abs_diff:.1e}<={self.tolerance:.1e}"


@dataclass(frozen=True)
class Cell(ToolResult):
    """One extraction method under one tool."""

    method: str
    tool: str


def _second_input(x: torch.Tensor) -> torch.Tensor:
    """An input of another odd size, to check that an export did not specialise on ``x``'s."""
    g = torch.Generator().manual_seed(1)
    b, c, h, w = x.shape
    return torch.randn(b, c, h + 14, w - 6, generator=g, dtype=x.dtype).to(x.device)  # (B, 3, H+14, W-6)


def _max_diff(got: Sequence[torch.Tensor], want: Sequence[torch.Tensor]) -> float:
    if len(got) != len(want):
        return float("inf")
    diffs = []
    for a, b in zip(got, want, strict=True):
        a = torch.as_tensor(a)
        if a.shape != b.shape:
            return float("inf")
        diffs.append((a.float().to(b.device) - b.float()).abs().max().item())
    return max(diffs)


def _dynamic_hw() -> dict[str, dict[int, object]]:
    return {"x": {2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}}  # H and W, any size


# A runner applies its tool to a module, prepared (compiled, exported) at ``inputs[0]``, and returns
# what the result computes for each of ``inputs``. ``dynamic``: the exports take any H and W
# (``torch.export.Dim.DYNAMIC``); False exports at ``inputs[0]``'s size only (a fixed-size model).
_Runner = Callable[..., list]


def _run_compile(fullgraph: bool) -> _Runner:
    def run(extractor: nn.Module, inputs: list[torch.Tensor], dynamic: bool = True) -> list:
        torch._dynamo.reset()
        compiled = torch.compile(extractor, fullgraph=fullgraph)  # the default backend: inductor
        return [compiled(x) for x in inputs]  # a new size recompiles, with dynamic H and W
    return run


def _run_export(extractor: nn.Module, inputs: list[torch.Tensor], dynamic: bool = True) -> list:
    program = torch.export.export(extractor, (inputs[0],), dynamic_shapes=_dynamic_hw() if dynamic else None)
    module = program.module()
    return [module(x) for x in inputs]


def _run_onnx(extractor: nn.Module, inputs: list[torch.Tensor], dynamic: bool = True) -> list:
    import onnxruntime  # type: ignore[import-untyped]

    program = torch.onnx.export(extractor, (inputs[0],), dynamo=True,
                                dynamic_shapes=_dynamic_hw() if dynamic else None, verbose=False)
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return [[torch.from_numpy(a) for a in session.run(None, {name: x.cpu().numpy()})] for x in inputs]


def _run_torchscript(extractor: nn.Module, inputs: list[torch.Tensor], dynamic: bool = True) -> list:
    scripted = torch.jit.script(extractor)
    return [scripted(x) for x in inputs]


def _run_deepcopy_ema(extractor: nn.Module, inputs: list[torch.Tensor], dynamic: bool = True) -> list:
    """A copy as EMA training keeps one: ``deepcopy``, then one update ``ema += (1 - d)(p - ema)``
    (a no-op on equal weights, so the copy must still return eager's maps)."""
    ema = copy.deepcopy(extractor)
    with torch.no_grad():
        for p_ema, p in zip(ema.parameters(), extractor.parameters(), strict=True):
            p_ema.lerp_(p, 1 - EMA_DECAY)
    return [ema(x) for x in inputs]


def _run_toggles(extractor: nn.Module, inputs: list[torch.Tensor], dynamic: bool = True) -> list:
    for _ in range(100):
        extractor.train()
        extractor.eval()
    return [extractor(x) for x in inputs]


def _run_channels_last_bf16(extractor: nn.Module, inputs: list[torch.Tensor], dynamic: bool = True) -> list:
    extractor = extractor.to(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return [extractor(x.to(memory_format=torch.channels_last)) for x in inputs]


def _run_eager(extractor: nn.Module, inputs: list[torch.Tensor], dynamic: bool = True) -> list:
    return [extractor(x) for x in inputs]


RUNNERS: dict[str, _Runner] = {
    "eager": _run_eager,
    "compile": _run_compile(fullgraph=False),
    "compile fullgraph": _run_compile(fullgraph=True),
    "export": _run_export,
    "onnx": _run_onnx,
    "torchscript": _run_torchscript,
    "deepcopy + EMA": _run_deepcopy_ema,
    "100 train/eval toggles": _run_toggles,
    "channels_last + bf16": _run_channels_last_bf16,
}
RTOL = {"compile": CODEGEN_RTOL, "compile fullgraph": CODEGEN_RTOL, "export": 0.0, "onnx": CODEGEN_RTOL,
        "channels_last + bf16": BF16_RTOL}  # every other tool: 0, bit for bit
RESHAPES = ("export", "onnx")  # prepared once for any H and W: checked at a second size too


def try_tool(module: nn.Module, tool: str, inputs: list[torch.Tensor], want: list[Sequence[torch.Tensor]],
             judged_from: int = 0, dynamic: bool = True) -> ToolResult:
    """Apply ``tool`` to ``module`` (prepared at ``inputs[0]``, changed in place by some tools: pass
    a copy), run it on every input and compare its maps for ``inputs[judged_from:]`` with
    ``want`` (eager's, one list per input). The tolerance is the tool's ``RTOL`` times the largest
    magnitude of the judged maps. Any exception is the answer, not an error."""
    check_choice(tool, TOOLS, "compatibility tool")
    tolerance = RTOL.get(tool, 0.0) * max(t.abs().max().item() for maps in want[judged_from:] for t in maps)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = RUNNERS[tool](module, inputs, dynamic=dynamic)
    except Exception as e:  # any failure to compile, export or run is this cell's answer
        first = (str(e).strip().splitlines() or [""])[0][:200]
        return ToolResult(False, None, tolerance, f"{type(e).__name__}: {first}")
    finally:
        if tool.startswith("compile"):
            torch._dynamo.reset()
    diff = max(_max_diff(g, w) for g, w in zip(got[judged_from:], want[judged_from:], strict=True))
    return ToolResult(True, diff, tolerance, "")


def cell(method: str, tool: str, model: torchvision.models.ResNet, x: torch.Tensor,
         layers: Sequence[str] = ("layer1", "layer2", "layer3", "layer4")) -> Cell:
    """Apply ``tool`` to ``method``'s extractor of ``layers`` from ``model`` (which is not changed)
    and compare with the extractor run eagerly on ``x`` (and on a second odd size for the exports)."""
    check_choice(method, METHODS, "extraction method")
    check_choice(tool, TOOLS, "compatibility tool")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"x must be a (B, 3, H, W) batch, got shape {tuple(x.shape)}")
    model = copy.deepcopy(model).eval()  # the tools (toggles, channels_last) may change it
    extractor = build_extractor(method, model, list(layers)).eval()
    inputs = [x, _second_input(x)] if tool in RESHAPES else [x]
    with torch.no_grad():
        want = [extractor(v) for v in inputs]
    try:
        result = try_tool(extractor, tool, inputs, want)
    finally:
        if isinstance(extractor, HookExtractor):
            extractor.remove()
    return Cell(**asdict(result), method=method, tool=tool)


def matrix(model: torchvision.models.ResNet, x: torch.Tensor, methods: Sequence[str] = METHODS,
           tools: Sequence[str] = TOOLS, progress: Callable[[str], None] = lambda s: None) -> list[dict]:
    """Every cell of ``methods`` x ``tools``, as dicts (the form the benchmark's JSON stores)."""
    out = []
    for method in methods:
        for tool in tools:
            progress(f"compatibility: {method} / {tool}")
            out.append(asdict(cell(method, tool, model, x)))
    return out


MATRIX_SIZE = (97, 83)  # odd, and not a multiple of 32: every stage rounds its size up


def resnet50_matrix(size: tuple[int, int] = MATRIX_SIZE, methods: Sequence[str] = METHODS,
                    tools: Sequence[str] = TOOLS, progress: Callable[[str], None] = lambda s: None) -> dict:
    """The matrix the benchmark commits: torchvision's ResNet50 (random weights, seed 0, eval
    mode) and one seeded batch of ``1 x 3 x H x W``."""
    model, x = bench_model(), bench_input(size, 1, "cpu")
    return {"model": "resnet50", "input": list(x.shape), "torch": torch.__version__,
            "cells": matrix(model, x, methods, tools, progress)}


def load_cells(record: dict) -> list[Cell]:
    """The cells of a matrix stored by ``resnet50_matrix``."""
    return [Cell(**c) for c in record["cells"]]


def works(record: dict) -> dict[str, dict[str, bool]]:
    """``{method: {tool: works}}`` of a stored matrix."""
    out: dict[str, dict[str, bool]] = {}
    for c in load_cells(record):
        out.setdefault(c.method, {})[c.tool] = c.works
    return out


def matrix_table(record: dict) -> Table:
    """One row per method, one column per tool: the outcome, the largest difference from eager and
    the tolerance it was judged by (none shown: bit for bit)."""
    cells = load_cells(record)
    methods = list(dict.fromkeys(c.method for c in cells))
    tools = list(dict.fromkeys(c.tool for c in cells))
    by = {(c.method, c.tool): c for c in cells}
    rows = tuple((m, *(by[m, t].shown for t in tools)) for m in methods)
    shape = " x ".join(map(str, record["input"]))
    model = record["model"].replace("resnet", "ResNet")  # the reader's name, not the builder's
    return Table(("method", *(f"{t} (deprecated)" if t in DEPRECATED else t for t in tools)), rows,
                 caption=f"{model}, input {shape}, torch {record['torch']}: outcome, max |diff| from "
                         "eager <= tolerance (a bare number: the tolerance is 0, bit for bit)")
