"""The package's public surface: every module declares ``__all__`` with only the names it defines,
each public name has one home, and the chapters import only public names."""

import ast
import importlib
import json
import pathlib
import pkgutil
import re

import pytest

import backbones_tutorial

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
MODULES = sorted(m.name for m in pkgutil.walk_packages(backbones_tutorial.__path__, "backbones_tutorial.")
                 if not m.ispkg and not m.name.endswith("__main__"))


def chapter_imports(path: pathlib.Path) -> list[tuple[str, str]]:
    """(module, name) of every ``from backbones_tutorial... import name`` in a chapter's code cells."""
    found = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse(re.sub(r"^(\s*)[!%].*$", r"\1pass", source, flags=re.M))  # IPython magics and shell lines
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("backbones_tutorial"):
                found += [(node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                found += [(alias.name, "") for alias in node.names if alias.name.startswith("backbones_tutorial")]
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_imports_only_public_names(path):
    imports = chapter_imports(path)
    assert imports, f"{path.name} imports nothing from the package"
    for module_name, name in imports:
        assert "__main__" not in module_name, f"{path.name} imports from the command line module: {module_name}"
        assert not any(part.startswith("_") for part in [*module_name.split("."), name] if part), (
            f"{path.name} imports a private name: from {module_name} import {name}")
        if not name:
            continue
        module = importlib.import_module(module_name)
        if hasattr(module, "__path__") and name in {m.name for m in pkgutil.iter_modules(module.__path__)}:
            continue  # a submodule, e.g. from backbones_tutorial.bench import compat
        assert name in module.__all__, f"{path.name}: {name} is not in {module_name}.__all__"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_module_declares_all_with_only_what_it_defines(module_name):
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    assert len(module.__all__) == len(set(module.__all__)), f"{module_name}.__all__ lists a name twice"
    defined = {n.name for n in ast.parse(pathlib.Path(module.__file__).read_text()).body
               if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for n in ast.parse(pathlib.Path(module.__file__).read_text()).body
                if isinstance(n, (ast.Assign, ast.AnnAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    foreign = sorted(set(module.__all__) - defined)
    assert not foreign, f"{module_name}.__all__ re-exports names defined elsewhere: {foreign}"


def test_each_public_name_has_one_home():
    homes: dict[str, list[str]] = {}
    for module_name in MODULES:
        for name in importlib.import_module(module_name).__all__:
            homes.setdefault(name, []).append(module_name)
    shared = {n: m for n, m in homes.items() if len(m) > 1}
    assert not shared, f"names declared public in several modules: {shared}"


def test_the_root_api_lists_each_name_once_and_each_resolves_to_its_home():
    names = backbones_tutorial.__all__
    assert len(names) == len(set(names))
    for name in names:
        value = getattr(backbones_tutorial, name)
        assert name in importlib.import_module(value.__module__).__all__, f"{name} is not public in {value.__module__}"


def _imports_of(path: pathlib.Path, module_name: str) -> set[str]:
    """The package modules that ``path`` imports anywhere (lazy imports in functions included),
    except under ``if TYPE_CHECKING:``, which never runs."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("backbones_tutorial"):
            for alias in node.names:  # "from pkg import module" imports the module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("backbones_tutorial.")}
    return {m for m in found if m in MODULES and m != module_name}


def test_no_module_imports_itself_through_a_circle():
    graph = {m: _imports_of(pathlib.Path(importlib.import_module(m).__file__), m) for m in MODULES}
    cycles = []

    def visit(node, path):
        for nxt in graph[node]:
            if nxt == path[0]:
                cycles.append([*path, nxt])
            elif nxt not in path and nxt > path[0]:  # each cycle found once, from its smallest module
                visit(nxt, [*path, nxt])

    for start in MODULES:
        visit(start, [start])
    assert not cycles, f"import circles: {cycles}"


def test_at_most_twelve_modules_sit_at_the_root():
    root = ROOT / "backbones_tutorial"
    modules = sorted(p.name for p in root.glob("*.py"))
    assert len(modules) <= 12, modules


def test_no_package_module_patches_other_libraries_with_a_test_tool():
    for path in (ROOT / "backbones_tutorial").rglob("*.py"):
        assert "unittest" not in path.read_text(), f"{path.name} uses unittest (mock) in production code"
