"""The three places that state versions agree: constraints.txt, environment.yml, pyproject.toml."""

import pathlib
import re

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pins(lines):
    return dict(m.groups() for line in lines if (m := re.match(r"^\s*([A-Za-z0-9_.\-]+)==(\S+)\s*$", line)))


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


CONSTRAINTS = {norm(k): v for k, v in pins((ROOT / "constraints.txt").read_text().splitlines()).items()}
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_environment_yml_pins_the_tested_versions():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = {norm(k): v for k, v in pins(pip_section).items()}
    assert "-e ." in pip_section
    assert env_pins, "environment.yml pins nothing"
    for name, version in env_pins.items():
        assert CONSTRAINTS.get(name) == version, (
            f"environment.yml pins {name}=={version}, constraints.txt {CONSTRAINTS.get(name)}"
        )


def test_every_declared_dependency_is_pinned_and_in_range():
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    reqs += [Requirement(r) for extra in PYPROJECT["optional-dependencies"].values() for r in extra]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = {norm(k) for k in pins(pip_section)}
    for req in reqs:
        name = norm(req.name)
        assert name in CONSTRAINTS, f"{name} is declared in pyproject.toml but not pinned in constraints.txt"
        assert req.specifier.contains(CONSTRAINTS[name]), f"{name}=={CONSTRAINTS[name]} is outside {req.specifier}"
        assert name in env_pins, f"{name} is declared in pyproject.toml but missing from environment.yml"


def test_jupyter_book_stays_on_version_1():
    assert CONSTRAINTS["jupyter-book"].startswith("1.")


@pytest.mark.slow
def test_a_non_editable_wheel_holds_every_subpackage(tmp_path):
    """Colab installs the package from the repository without ``-e``: the wheel must carry every
    subpackage (``pyproject.toml`` finds them), and each must import from the installed copy."""
    import pkgutil
    import shutil
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    source_tree = tmp_path / "src"  # a copy, so that the build leaves no build/ folder in the checkout
    source_tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(root / name, source_tree / name)
    shutil.copytree(root / "backbones_tutorial", source_tree / "backbones_tutorial",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(source_tree)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("backbones_tutorial-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    source = root / "backbones_tutorial"
    packages = sorted({"backbones_tutorial", *(f"backbones_tutorial.{m.name}" for m in
                                               pkgutil.walk_packages([str(source)]) if m.ispkg)})
    assert len(packages) >= 7, packages  # the root and its six topic subpackages, viz among them
    code = ("import importlib, sys\n"
            f"for name in {packages!r}:\n"
            "    m = importlib.import_module(name)\n"
            f"    assert m.__file__.startswith({str(target)!r}), (name, m.__file__)\n"
            "print('ok')")
    # -I: isolated (no user site, no PYTHONPATH, not the checkout's folder), then the target first
    env_code = f"import sys; sys.path.insert(0, {str(target)!r}); exec({code!r})"
    out = subprocess.run([sys.executable, "-I", "-c", env_code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
