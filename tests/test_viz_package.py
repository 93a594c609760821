"""Each chapter's figure lives in a module named for what it draws, and the chapters' imports
from ``backbones_tutorial.viz`` all resolve."""

from __future__ import annotations

import ast
import importlib
import pathlib

import nbformat
import pytest

import backbones_tutorial.viz as viz

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The module each public name lives in, written from the chapters' titles.
HOMES = {
    "draw_residual_block": "residual_block",  # Chapter 1
    "plot_stage_flow": "stage_flow",  # Chapter 2
    "FLOW_STAGES": "stage_flow",
    "feature_grid": "feature_grid",  # Chapter 3
    "draw_fpn": "fpn_diagram",  # Chapter 4
    "plot_trainable": "trainable",  # Chapter 5
    "plot_bench": "bench_plot",  # Chapter 6
    "plot_blocks": "bench_plot",
    **dict.fromkeys(("plot_samples", "plot_history", "plot_freezing"), "segmentation"),  # Chapter 8
}


def chapter_viz_imports() -> set[str]:
    names = set()
    for path in sorted((ROOT / "book").glob("[0-9]*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            if "google.colab" in source:  # the Colab install cell: only shell commands
                continue
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ImportFrom) and node.module == "backbones_tutorial.viz":
                    names |= {alias.name for alias in node.names}
    return names


def test_every_name_the_chapters_import_from_viz_is_exported():
    imported = chapter_viz_imports()
    assert imported, "no chapter imports from backbones_tutorial.viz"
    assert imported <= set(viz.__all__)


@pytest.mark.parametrize(("name", "module"), list(HOMES.items()))
def test_each_public_name_is_the_one_its_chapter_module_defines(name: str, module: str):
    home = importlib.import_module(f"backbones_tutorial.viz.{module}")
    assert getattr(viz, name) is getattr(home, name)
    assert name in viz.__all__
    assert f"``{module}.py``" in viz.__doc__  # the chapter -> module map names it


def test_viz_exports_nothing_without_a_home():
    assert set(viz.__all__) == set(HOMES)


def test_boxes_and_arrows_are_drawn_by_one_shared_helper():
    """The diagrams share _drawing's box, arrow and canvas instead of each defining its own."""
    for path in (ROOT / "backbones_tutorial" / "viz").glob("*.py"):
        if path.name != "_drawing.py":
            source = path.read_text()
            assert "FancyBboxPatch" not in source and "arrowprops" not in source, path.name
