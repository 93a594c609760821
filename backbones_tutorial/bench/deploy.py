"""Can I deploy this pyramid? The compatibility matrix per family of ``backbone()``.

One model per family (``registry.DEPLOY_MODELS``: the smallest member ``backbone()`` builds by
name; random weights, seed 0, eval mode), each deployment tool applied to its pyramid by the
runners of ``compat`` (the same ones the extraction methods' matrix uses), prepared (compiled,
exported) at ``EXPORT_SIZE`` and judged at ``CHECK_SIZES``, two other odd sizes: a tool that
specialised on the first size shows it there. ViT's pyramid takes 224 x 224 only (its position
embeddings are learned for 14 x 14 patches): it is exported with static shapes and judged on two more
224 x 224 batches, and its cells say so. The tolerances are ``compat.RTOL``'s, relative to
the largest magnitude of eager's maps at the judged sizes: 0 (bit for bit) for eager, export and
the EMA copy, ``CODEGEN_RTOL`` for the compiles and ONNX Runtime, ``BF16_RTOL`` for bfloat16
autocast.
"""

from __future__ import annotations

import copy
import json
import pathlib
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from backbones_tutorial.bench.compat import ToolResult, try_tool
from backbones_tutorial.checks import check_choice
from backbones_tutorial.display import Table
from backbones_tutorial.registry import DEPLOY_MODELS, DEPLOY_TOOLS

__all__ = ["CHECK_SIZES", "EXPORT_SIZE", "DeployCell", "deploy_cell", "deploy_failures", "deploy_matrix",
           "deploy_table", "load_deploy", "load_deploy_cells"]

EXPORT_SIZE = (229, 261)  # odd, not a multiple of 32: every stage rounds
# Two other odd sizes, one the other's transpose. All three give every Swin-T stage at least two
# 7 x 7 windows a side (its last stage is 8 or 9 wide): torch.export specialises a side of one
# window, as it does any size 1 (pyramids/windows.py), so a program exported here takes every
# size from 228 up, and refuses smaller ones with a guard error.
CHECK_SIZES = ((257, 233), (233, 257))


@dataclass(frozen=True)
class DeployCell(ToolResult):
    """One family's pyramid under one tool, judged at ``sizes`` (after preparing at another size,
    except where ``note`` says the family takes one size only): the largest difference of all."""

    family: str
    model: str
    tool: str
    sizes: tuple[tuple[int, int], ...]  # each (H, W) at which the difference was measured
    note: str  # "" or why the cell is not what the other rows are (a fixed input size)


def _inputs(family: str, sizes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(1, 3, h, w, generator=g) for h, w in sizes]  # (1, 3, H, W) each


def deploy_cell(pyramid: nn.Module, family: str, tool: str, sizes: Sequence[tuple[int, int]] | None = None,
                model: str = "") -> DeployCell:
    """Apply ``tool`` to a copy of ``pyramid`` prepared at ``sizes[0]`` and compare with ``pyramid``
    run eagerly at each of ``sizes[1:]`` (default ``EXPORT_SIZE`` then ``CHECK_SIZES``; a pyramid
    with a ``fixed_size``, ViT's: that size each time, other batches, exported with static shapes)."""
    check_choice(family, tuple(DEPLOY_MODELS), "family")
    check_choice(tool, DEPLOY_TOOLS, "deployment tool")
    fixed = getattr(pyramid, "fixed_size", None)
    if sizes is None:
        sizes = (fixed,) * 3 if fixed else (EXPORT_SIZE, *CHECK_SIZES)
    if len(sizes) < 2 or any(len(s) != 2 for s in sizes):
        raise ValueError(f"sizes must be (H, W) pairs: where it is prepared, then where it is judged; got {sizes!r}")
    if fixed and any(tuple(s) != tuple(fixed) for s in sizes):
        raise ValueError(f"this {family} pyramid takes {fixed[0]} x {fixed[1]} only, got sizes {sizes!r}")
    pyramid = pyramid.eval()
    inputs = _inputs(family, sizes)
    with torch.no_grad():
        want = [pyramid(x) for x in inputs]
    result = try_tool(copy.deepcopy(pyramid), tool, inputs, want, judged_from=1, dynamic=fixed is None)
    note = f"{fixed[0]} x {fixed[1]} only: other batches of that size, static shapes" if fixed else ""
    judged = tuple((int(h), int(w)) for h, w in sizes[1:])
    return DeployCell(**asdict(result), family=family, model=model, tool=tool, sizes=judged, note=note)


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime  # type: ignore[import-untyped]
    import torchvision

    from backbones_tutorial.bench.runner import _machine

    return {**_machine("cpu"), "torchvision": torchvision.__version__, "onnxruntime": onnxruntime.__version__,
            "onnx": onnx.__version__, "platform": platform.platform()}


def deploy_matrix(families: Sequence[str] = tuple(DEPLOY_MODELS), tools: Sequence[str] = DEPLOY_TOOLS,
                  progress: Callable[[str], None] = lambda s: None) -> dict:
    """Every cell of ``families`` x ``tools`` on the models of ``DEPLOY_MODELS``, with the versions
    and the machine they were measured on (the record ``book/data/deploy.json`` holds)."""
    from backbones_tutorial.pyramids.backbone import backbone

    for family in families:
        check_choice(family, tuple(DEPLOY_MODELS), "family")
    for tool in tools:
        check_choice(tool, DEPLOY_TOOLS, "deployment tool")
    start = time.perf_counter()
    cells = []
    for family in families:
        torch.manual_seed(0)
        pyramid = backbone(DEPLOY_MODELS[family]).eval()
        for tool in tools:
            progress(f"deploy: {family} ({DEPLOY_MODELS[family]}) / {tool}")
            t0 = time.perf_counter()
            c = deploy_cell(pyramid, family, tool, model=DEPLOY_MODELS[family])
            progress(f"  {c.outcome}, max |diff| {c.max_abs_diff} <= {c.tolerance:.2g}, "
                     f"{time.perf_counter() - t0:.0f} s {c.error}")
            cells.append(asdict(c))
    return {"machine": _versions(), "compile_backend": "inductor", "export_size": list(EXPORT_SIZE),
            "check_sizes": [list(s) for s in CHECK_SIZES], "wall_s": round(time.perf_counter() - start, 1),
            "cells": cells}


def load_deploy(path: str | pathlib.Path) -> dict:
    """The record a ``deploy`` run wrote (``deploy --out PATH``)."""
    record = json.loads(pathlib.Path(path).read_text())
    if not isinstance(record, dict) or "cells" not in record or "machine" not in record:
        raise ValueError(f"{path} is not a record of the deploy command (expected keys 'cells' and 'machine')")
    return record


def deploy_failures(record: dict) -> dict[str, list[str]]:
    """``{family: [tools that do not work]}``, every family of the record (an empty list: deployable
    under every tool checked)."""
    out: dict[str, list[str]] = {}
    for c in load_deploy_cells(record):
        out.setdefault(c.family, [])
        if not c.works:
            out[c.family].append(c.tool)
    return out


def load_deploy_cells(record: dict) -> list[DeployCell]:
    """The cells of a record written by ``deploy_matrix``."""
    return [DeployCell(**{**c, "sizes": tuple(tuple(s) for s in c["sizes"])}) for c in record["cells"]]


def deploy_table(record: dict) -> Table:
    """One row per family (its model), one column per tool: the outcome, the largest difference
    from eager at the judged sizes and the tolerance it was judged by (none shown: bit for bit)."""
    cells = load_deploy_cells(record)
    families = list(dict.fromkeys(c.family for c in cells))
    tools = list(dict.fromkeys(c.tool for c in cells))
    by = {(c.family, c.tool): c for c in cells}
    rows = tuple((f"{f} ({by[f, tools[0]].model})", *(by[f, t].shown + (" *" if by[f, t].note else "") for t in tools))
                 for f in families)
    m = record["machine"]
    h, w = record["export_size"]
    judged = " and ".join(f"{a} x {b}" for a, b in record["check_sizes"])
    notes = sorted({c.note for c in cells if c.note})
    return Table(("family (model)", *tools), rows,
                 caption=f"torch {m['torch']} ({record['compile_backend']}), ONNX Runtime {m['onnxruntime']}, "
                         f"CPU; prepared at {h} x {w}, judged at {judged}: outcome, max |diff| from eager <= "
                         "tolerance (a bare number: the tolerance is 0, bit for bit)"
                         + "".join(f"; * {n}" for n in notes))
