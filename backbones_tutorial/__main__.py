"""The command line: ``shapes`` predicts each stage's output for an input size, ``bench`` measures
the feature-extraction methods. Each command imports torch only when it runs, so ``--help`` is fast."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import TYPE_CHECKING

from .predictable import PREDICTABLE

if TYPE_CHECKING:
    from .display import Table

PROG = "python -m backbones_tutorial"

DESCRIPTION = 'The command line of the book "CNN backbones in PyTorch".'

SHAPES_HELP = """\
Predict each stage's output shape, stride and parameter count of an
architecture for an input size, from the convolution and pooling arithmetic
(the model is built on the meta device; nothing is run)."""

SHAPES_EXAMPLE = f"""\
example:
  {PROG} shapes resnet50 --size 225 300"""

BENCH_HELP = """\
Time each feature-extraction method against a bare forward pass (interleaved
rounds) and measure its peak memory in fresh subprocesses; print a table per
device and write the results as JSON."""

BENCH_EXAMPLE = f"""\
examples:
  a smoke run (64x64 input, 3 rounds):
    {PROG} bench --quick --device cpu
  the run that chapter 6 shows:
    {PROG} bench --out book/data/bench.json --plot bench.png"""

MAIN_EXAMPLE = f"""\
examples:
  {PROG} shapes resnet50 --size 225 300
  {PROG} bench --quick --device cpu

Each command describes its options: {PROG} shapes --help."""


def shapes_table(arch: str, size: tuple[int, int]) -> Table:
    """Each stage of ``arch`` for a 3 x H x W input: output shape, stride, parameters."""
    from .display import Table, fmt_int, fmt_shape
    from .predict import checked_prediction

    rows = tuple(
        (r.name, fmt_shape(r.shape), f"/{r.reduction}" if r.reduction else "-", fmt_int(r.params))
        for r in checked_prediction(arch, size)
    )
    caption = f"{arch}, input 3 x {size[0]} x {size[1]} (predicted from the conv and pool arithmetic)"
    return Table(("stage", "output (C x H x W)", "stride", "parameters"), rows, caption)


def parser() -> argparse.ArgumentParser:
    """The argument parser; building it imports nothing but the standard library."""
    raw = argparse.RawDescriptionHelpFormatter
    main_parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=MAIN_EXAMPLE, formatter_class=raw
    )
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="{shapes,bench}")
    shapes = commands.add_parser(
        "shapes", help="print each stage's output shape, stride and parameters", formatter_class=raw,
        description=SHAPES_HELP,
        epilog=SHAPES_EXAMPLE,
    )
    shapes.add_argument("arch", choices=PREDICTABLE, metavar="ARCH", help="one of: " + ", ".join(PREDICTABLE))
    shapes.add_argument("--size", nargs=2, type=int, default=(224, 224), metavar=("H", "W"),
                        help="input height and width (default: 224 224)")
    bench = commands.add_parser(
        "bench", help="measure what each feature-extraction method costs", formatter_class=raw,
        description=BENCH_HELP,
        epilog=BENCH_EXAMPLE,
    )
    bench.add_argument("--quick", action="store_true",
                       help="a smoke run: 64x64 input, 3 rounds, one memory process, a small matrix without "
                            "the compiles; its verdicts are not meaningful")
    bench.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto (default): the CPU, and CUDA too when it is available")
    bench.add_argument("--rounds", type=int, default=None,
                       help="the least number of interleaved rounds (default 30; 3 with --quick); more are added "
                            "until every interval is narrow enough or the budget is spent")
    bench.add_argument("--budget", type=float, default=None,
                       help="seconds for all the timing rounds of one device (default 360)")
    bench.add_argument("--threads", type=int, default=None, help="torch threads for every timed call (default 1)")
    bench.add_argument("--no-matrix", action="store_true",
                       help="skip the compatibility matrix (ResNet50; its compiles take minutes)")
    bench.add_argument("--size", type=int, default=None, help="input side (default 224; 64 with --quick)")
    bench.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    bench.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench-results/bench.json"),
                       help="JSON file to write (default: bench-results/bench.json)")
    bench.add_argument("--plot", type=pathlib.Path, default=None, help="also draw the ratios to this PNG file")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.command == "shapes":
        from .predict import SizeTooSmall

        try:
            print(repr(shapes_table(args.arch, tuple(args.size))))
        except (SizeTooSmall, ValueError) as e:
            cli.exit(2, f"error: {e}\n")
    elif args.command == "bench":
        return run_bench(args, cli)
    return 0


def _writable(path: pathlib.Path, option: str, cli: argparse.ArgumentParser) -> None:
    """Refuse, before anything runs, a path whose file cannot be created or overwritten."""
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if path.is_dir() or (path.exists() and not os.access(path, os.W_OK)) or (
            not path.exists() and (parent is None or not parent.is_dir() or not os.access(parent, os.W_OK))):
        cli.exit(2, f"error: {option} {path}: cannot write that file (a directory, or no write permission); "
                    "give a writable file path\n")


def run_bench(args: argparse.Namespace, cli: argparse.ArgumentParser) -> int:
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 30)
    size = args.size if args.size is not None else (64 if args.quick else 224)
    if rounds < 3 or size < 32:
        cli.exit(2, f"error: need --rounds >= 3 and --size >= 32, got --rounds {rounds} and --size {size}\n")
    if args.budget is not None and args.budget <= 0:
        cli.exit(2, f"error: --budget must be a positive number of seconds, got {args.budget}\n")
    if args.threads is not None and args.threads < 1:
        cli.exit(2, f"error: --threads must be at least 1, got {args.threads}\n")
    _writable(args.out, "--out", cli)
    if args.plot:
        _writable(args.plot, "--plot", cli)

    import torch

    from . import bench

    if args.device == "cuda" and not torch.cuda.is_available():
        cli.exit(2, "error: --device cuda, but torch.cuda.is_available() is False on this machine\n")
    if args.device == "auto":
        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    else:
        devices = [args.device]
    default = bench.Settings()
    runs = []
    for k, device in enumerate(devices):
        settings = bench.Settings(
            device=device, size=size, rounds=rounds, max_rounds=rounds if args.quick else default.max_rounds,
            budget_s=args.budget or default.budget_s, warmup=1 if args.quick else default.warmup,
            threads=args.threads or default.threads, memory=not args.no_memory, quick=args.quick)

        def progress(step: str, device: str = device) -> None:
            print(f"[bench {device}] {step}", file=sys.stderr, flush=True)

        results = bench.run(settings, progress=progress, matrix=k == 0 and not args.no_matrix)  # matrix: CPU
        runs.append(results)
        print(repr(bench.table(results)))
        if args.quick:
            print("  a quick smoke run: every code path once; its verdicts are not meaningful")
        for line in bench.format_targets(results):
            print(f"  {line}")
        if results.compatibility:
            from .compat import matrix_table

            print(repr(matrix_table(results.compatibility)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(bench.to_json(runs))
    print(f"wrote {args.out}")
    if args.plot:
        from .viz import plot_bench

        plot_bench(bench.load(args.out)).savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
