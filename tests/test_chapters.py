"""The chapters as readers run them: in the table of contents, runnable on Colab, importing only
what the package's install brings."""

import ast
import importlib.metadata
import pathlib
import re
import sys

import nbformat
import pytest
import tomllib
import yaml
from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9]*.ipynb"))
REPO = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_every_chapter_is_in_the_table_of_contents_and_back():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {ch["file"] for part in toc["parts"] for ch in part["chapters"]}
    assert {f"book/{p.stem}" for p in CHAPTERS} <= files
    assert all((ROOT / f).with_suffix(".ipynb").exists() or (ROOT / f).with_suffix(".md").exists() for f in files)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_first_cell_installs_the_package_on_colab_only(path):
    source = code_cells(path)[0].source
    assert source.splitlines()[0] == "import sys"
    assert re.match(r'if "google\.colab" in sys\.modules:', source.splitlines()[1])
    assert all(line.startswith("    ") for line in source.splitlines()[2:])  # all guarded
    assert f"git clone -q --depth 1 {REPO} " in source
    assert '%pip install -q "/content/backbones-tutorial[book]"' in source  # the chapters need the book extra
    assert "%cd /content/backbones-tutorial/book" in source  # relative paths such as data/ work


def _allowed_distributions() -> set[str]:
    """The distributions that `pip install .[book]` brings: declared ones and their requirements."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r).name for r in project["dependencies"] + project["optional-dependencies"]["book"]]
    seen: set[str] = set()
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        for req in importlib.metadata.requires(name) or []:
            r = Requirement(req)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(r.name)
    return seen


def test_chapters_import_only_what_the_install_brings():
    allowed = _allowed_distributions()
    providers = importlib.metadata.packages_distributions()
    for path in CHAPTERS:
        for cell in code_cells(path):
            code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            if "google.colab" in code:
                continue
            for node in ast.walk(ast.parse(code)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                for module in (n.split(".")[0] for n in names):
                    if module in sys.stdlib_module_names or module == "backbones_tutorial":
                        continue
                    dists = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(module, [])}
                    assert dists & allowed, f"{path.name} imports {module}, which pip install .[book] does not bring"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_is_stored_executed_without_errors(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in cells[1:])
    assert not [o for c in cells for o in c.outputs if o.output_type == "error" or o.get("name") == "stderr"]
