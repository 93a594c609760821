"""The files a maintainer reads: the license pyproject.toml declares, the version the package reports."""

import importlib.metadata
import pathlib

import tomllib

import backbones_tutorial

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_version_is_pyprojects():
    assert backbones_tutorial.__version__ == PYPROJECT["version"]
    assert importlib.metadata.version("backbones-tutorial") == PYPROJECT["version"], "reinstall: make setup"


def test_license_file_matches_the_declared_license():
    assert PYPROJECT["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text


def test_contributing_and_changelog_exist():
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    for target in ("make test", "make execute", "make readme", "make lock", "make lint"):
        assert target in contributing, f"CONTRIBUTING.md does not mention {target}"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
