"""The command line answers --help without importing torch, in plain text with an example per command."""

import json
import subprocess
import sys

import pytest

from backbones_tutorial.registry import MODELS, PREDICTABLE

# Runs the command line's main() with the given arguments and reports which heavy modules were imported.
PROBE = """
import json, sys
from backbones_tutorial.__main__ import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("torch", "torchvision", "torchinfo", "matplotlib", "numpy")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""


def run_cli(*args: str) -> tuple[str, list[str]]:
    """The help text that ``python -m backbones_tutorial ARGS`` prints, and the heavy modules it imported."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, check=True)
    return proc.stdout, json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["shapes", "--help"], ["bench", "--help"], ["deploy", "--help"]],
                         ids=" ".join)
def test_help_imports_no_torch_and_is_plain_text_with_an_example(args):
    text, heavy = run_cli(*args)
    assert heavy == [], f"{' '.join(args)} imported {heavy}"
    assert text.startswith("usage: python -m backbones_tutorial")
    assert "``" not in text and ":ref:" not in text and "**" not in text, text  # no RST or Markdown markup
    commands = ["shapes", "bench"] if args == ["--help"] else [args[0]]
    examples = [line.strip() for line in text.splitlines() if line.strip().startswith("python -m backbones_tutorial ")]
    for command in commands:
        assert any(e.split()[3] == command for e in examples), f"no example of {command!r} in:\n{text}"


def test_help_examples_parse():
    """Every example in the help text is a valid command line (parsed, not run)."""
    from backbones_tutorial.__main__ import parser

    helps = (["--help"], ["shapes", "--help"], ["bench", "--help"], ["deploy", "--help"])
    texts = [run_cli(*args)[0] for args in helps]
    examples = {line.strip() for t in texts for line in t.splitlines() if line.strip().startswith("python -m ")}
    assert len(examples) >= 3
    for example in examples:
        parser().parse_args(example.split()[3:])


def test_shapes_help_lists_exactly_the_predictable_models():
    text, _ = run_cli("shapes", "--help")
    listed = " ".join(text.split()).split("ARCH one of: ")[1].split(" options:")[0]
    from backbones_tutorial.registry import SHAPES_CHOICES  # the predictable models, then the pyramids

    assert [name.strip() for name in listed.split(",")] == list(SHAPES_CHOICES)
    assert list(SHAPES_CHOICES[: len(PREDICTABLE)]) == list(PREDICTABLE)
    assert set(PREDICTABLE) <= set(MODELS), "every predictable name must be a registered model"
    assert [n for n, e in MODELS.items() if e.predictable] == list(PREDICTABLE)


def test_importing_the_package_imports_no_torch():
    code = "import sys, backbones_tutorial; print('torch' in sys.modules, backbones_tutorial.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.split()[0] == "False"


def test_every_public_name_imports_from_the_package_root():
    import backbones_tutorial
    from backbones_tutorial import freeze, models, resnet

    for name in backbones_tutorial.__all__:
        assert getattr(backbones_tutorial, name) is not None
        assert name in dir(backbones_tutorial)
    # resnet and freeze are functions of the root's API; the modules that define them live in subpackages.
    assert callable(resnet) and callable(freeze) and resnet.__module__ == "backbones_tutorial.models.resnet"
    assert freeze.__module__ == "backbones_tutorial.extractors.freeze"
    assert models.__name__ == "backbones_tutorial.models"  # a subpackage, imported on first use
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        backbones_tutorial.no_such_name  # noqa: B018


def parser_commands() -> list[str]:
    from backbones_tutorial.__main__ import parser

    sub = next(a for a in parser()._actions if a.dest == "command")
    return list(sub.choices)


def readme_examples() -> list[list[str]]:
    """The command lines of the README's bash blocks that run the package, as argv after the module."""
    import pathlib
    import re
    import shlex

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[3:] for line in lines if re.match(r"(\.venv/bin/)?python -m backbones_tutorial ", line)]


def test_the_readme_has_an_example_of_every_command_and_each_parses():
    """The parser's commands and the README's examples: the same set, and each example is valid."""
    from backbones_tutorial.__main__ import parser

    examples = readme_examples()
    assert {e[0] for e in examples} == set(parser_commands()), "a command without an example, or the reverse"
    for argv in examples:
        parser().parse_args(argv)
    commands = {"shapes", "bench", "deploy", "segment", "pretrain", "freezing"}
    assert set(parser_commands()) >= commands  # the parser read right
