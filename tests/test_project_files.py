"""The files a maintainer and a newcomer read: the license pyproject.toml declares, the version the
package reports, the chapters the README and the intro list, the prerequisites and their check."""

import importlib.metadata
import json
import pathlib
import re
import shutil
import subprocess
import sys

import tomllib
import yaml

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


# --- issue 20: a newcomer's path without seams --------------------------------------------------

TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_chapters() -> list[tuple[int | None, str]]:
    """Every chapter of _toc.yml in order, as (number, path without suffix): the number the book gives
    it (numbered across parts, as `defaults: numbered: true` says), None in an unnumbered part."""
    default = TOC.get("defaults", {}).get("numbered", False)
    out, k = [], 0
    for part in TOC["parts"]:
        numbered = part.get("numbered", default)
        for chapter in part["chapters"]:
            k += bool(numbered)
            out.append((k if numbered else None, chapter["file"]))
    return out


def title(path: str) -> str:
    """The chapter's first level-1 heading."""
    src = ROOT / f"{path}.ipynb"
    if src.exists():
        text = "\n".join("".join(c["source"]) for c in json.loads(src.read_text())["cells"]
                         if c["cell_type"] == "markdown")
    else:
        text = (ROOT / f"{path}.md").read_text()
    return next(line[2:].strip() for line in text.splitlines() if line.startswith("# "))


def test_toc_chapters_are_read_in_order_and_numbered_as_the_book_numbers_them():
    chapters = toc_chapters()
    assert chapters[0] == (None, "book/running") and chapters[-1] == (None, "book/references")
    numbered = [c for c in chapters if c[0] is not None]
    assert [n for n, _ in numbered] == list(range(1, len(numbered) + 1))
    assert all(pathlib.Path(p).name.startswith(f"{n:02d}_") for n, p in numbered), numbered


def test_readme_lists_every_numbered_chapter_of_the_toc_with_its_title_in_order():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| chapter | what it teaches |")[1].split("\n\n")[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:]]
    assert rows == [f"{n}. {title(p)}" for n, p in toc_chapters() if n is not None]


def test_intro_lists_every_chapter_of_the_toc_in_order():
    intro = (ROOT / "book" / "intro.md").read_text()
    learn = intro.split("## What you will learn")[1].split("\n## ")[0]
    rows = [line for line in learn.splitlines() if line.startswith("| {")]
    linked = [re.search(r"\{doc\}`([^`]+)`", row).group(1) for row in rows]
    assert linked == [pathlib.Path(p).name for n, p in toc_chapters() if n is not None]
    for _n, p in toc_chapters():  # the unnumbered pages (running, references) are linked too
        assert f"{{doc}}`{pathlib.Path(p).name}`" in intro, p


def ignored_output_cells() -> dict[str, list[dict]]:
    """The code cells whose outputs strict nbval does not compare, per chapter."""
    out: dict[str, list[dict]] = {}
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            tags = cell.get("metadata", {}).get("tags", [])
            if cell["cell_type"] == "code" and {"nbval-ignore-output", "nbval-skip"} & set(tags):
                out.setdefault(nb.stem, []).append(cell)
    return out


def test_the_intro_and_readme_name_every_chapter_whose_outputs_nbval_does_not_compare():
    """They say that strict nbval compares every stored output except those of the chapters they
    name; where the intro says assertions check the numbers instead, the ignored cells assert."""
    ignored = ignored_output_cells()
    intro = (ROOT / "book" / "intro.md").read_text()
    checked = intro.split("## How every number is checked")[1].split("\n## ")[0]
    paragraph = next(p for p in checked.split("\n\n") if "nbval-ignore-output" in p)
    named = set(re.findall(r"\{doc\}`(\d\d_\w+)`", paragraph))
    assert named == set(ignored), f"the intro names {named}; outputs not compared in {set(ignored)}"
    readme = (ROOT / "README.md").read_text().lower()
    for stem, cells in ignored.items():
        assert f"chapter {int(stem[:2])}'s" in readme, stem
        assert not any("nbval-skip" in c["metadata"].get("tags", []) for c in cells), f"{stem}: a cell is not run"
    asserting = paragraph[paragraph.index("assertions"):]
    said = set(re.findall(r"\{doc\}`(\d\d_\w+)`", paragraph[:paragraph.index("assertions")].rsplit(".", 1)[-1]
                          + asserting.split(".")[0]))
    assert said, "the intro says which chapter's ignored cells assert"
    for stem in said:
        assert any(re.search(r"^\s*assert ", "".join(c["source"]), re.MULTILINE) for c in ignored[stem]), stem


def test_the_prerequisites_script_names_each_missing_prerequisite(tmp_path):
    """On a PATH with only sh and id: no npm and no Chromium (and no apt-get), each named once; a Python
    older than 3.10 named with its version. The README lists the same prerequisites."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "id"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    old = bin_dir / "python3.9"
    old.write_text("#!/bin/sh\necho 3.9\n")
    old.chmod(0o755)
    env = {"PATH": str(bin_dir), "PYTHON": sys.executable, "PREREQ_UID": "1000", "MATHJAX_STAMP": "",
           "PREREQ_SYSTEM_CHROMIUM": str(tmp_path / "no-chromium")}

    def run(goal: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([shutil.which("sh"), str(ROOT / "tools" / "prereqs.sh"), goal], cwd=tmp_path,
                              env={**env, **extra}, capture_output=True, text=True, timeout=60)

    book = run("book")
    assert book.returncode == 1 and book.stdout == ""
    lines = book.stderr.splitlines()
    assert lines[0].startswith("missing prerequisite: npm") and "apt-get install npm" in lines[0]
    assert lines[1] == "make book stopped before installing anything: 1 prerequisite(s) missing (see the README)"
    test = run("test")
    assert [line.split(":")[1].split(",")[0].strip() for line in test.stderr.splitlines()[:2]] == [
        "npm", "Chromium for the browser test"]
    assert "2 prerequisite(s) missing" in test.stderr
    old_python = run("book", PYTHON=str(old))
    assert "'" + str(old) + "' is Python 3.9" in old_python.stderr and "3 prerequisite" not in old_python.stderr
    stamp = tmp_path / "stamp"
    stamp.touch()
    fine = run("test", MATHJAX_STAMP=str(stamp), CHROMIUM_PATH=sys.executable)  # MathJax unpacked, a binary named
    assert fine.returncode == 0 and fine.stderr == ""
    readme = (ROOT / "README.md").read_text().split("## Prerequisites")[1].split("\n## ")[0]
    for needed in ("Python 3.10", "make", "npm", "Chromium", "apt-get", "root", "tools/prereqs.sh"):
        assert needed in readme, needed


def test_make_book_and_test_check_the_prerequisites_first():
    makefile = (ROOT / "Makefile").read_text()
    for goal in ("book", "test"):
        recipe = next(line for line in makefile.splitlines() if line.startswith(f"{goal}:"))
        assert recipe.split(":")[1].split()[0] == f"prereqs-{goal}", recipe
    assert "sh tools/prereqs.sh" in makefile


def test_ci_runs_make_test_then_the_compiler_cells_that_make_test_leaves_out():
    makefile = (ROOT / "Makefile").read_text()
    recipes = {goal: makefile.split(f"\n{goal}: ")[1].split("\n\n")[0] for goal in ("check", "test-compilers")}
    assert '-m "not browser and not compilers"' in recipes["check"] and "$(NBVAL) tests book" in recipes["check"]
    assert "NBVAL := --nbval " in makefile
    assert "-m compilers" in recipes["test-compilers"]
    test = makefile.split("\ntest: ")[1].split("\n\n")[0]
    assert test.splitlines()[1].split()[-3:] == ["lint", "check", "browser-test"], test
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make")]
    assert ci == ["make test", "make test-compilers"]


def test_readme_states_the_vit_pyramids_new_parameters():
    from backbones_tutorial.pyramids.backbone import backbone, build_on_meta, new_parameters

    n = new_parameters(backbone(build_on_meta("vit_b_16")))
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"about {n / 1e6:.2f} M parameters for vit_b_16" in readme


NOT_RANDOM = re.compile(r"pretrained|torch\.load\(|weights=(?!None\b)")  # a trained model, or a record of one
COMMENT = re.compile(r"#[^\n\"']*$", re.MULTILINE)  # a trailing comment (not one inside a string)


def test_the_intro_names_every_chapter_that_uses_trained_weights():
    """The intro says the chapters use random weights, naming the exceptions: exactly the chapters whose
    code loads or may load trained weights, or reads a record of runs made with them."""
    uses = set()
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        code = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        if NOT_RANDOM.search(COMMENT.sub("", code)):
            uses.add(nb.stem)
    intro = (ROOT / "book" / "intro.md").read_text()
    paragraph = next(p for p in intro.split("\n\n") if "random weights" in p)
    assert set(re.findall(r"\{doc\}`(\d\d_\w+)`", paragraph)) == uses, paragraph
    assert uses, "the search found no chapter at all: is the pattern still right?"
