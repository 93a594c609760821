"""The three places that state versions agree: constraints.txt, environment.yml, pyproject.toml."""

import pathlib
import re

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
