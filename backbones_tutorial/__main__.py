"""The command line: ``shapes`` predicts each stage's output for an input size, ``bench`` measures
the feature-extraction methods. Each command imports torch only when it runs, so ``--help`` is fast."""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import TYPE_CHECKING

from .predictable import PREDICTABLE, SHAPES_CHOICES

if TYPE_CHECKING:
    from .display import Table

PROG = "python -m backbones_tutorial"

DESCRIPTION = 'The command line of the book "CNN backbones in PyTorch".'

SHAPES_HELP = """\
Predict each stage's output shape, stride and parameter count of an
architecture for an input size, from the convolution and pooling arithmetic
(the model is built on the meta device; nothing is run). Then state the
input-size contract of its feature pyramid: each level's shape and stride,
the divisor (the largest stride), the nearest padded size at which every
level is exactly H/stride x W/stride, and whether the size is refused
(a fixed-size ViT, a size too small)."""

SHAPES_EXAMPLE = f"""\
examples:
  {PROG} shapes resnet50 --size 225 300
  {PROG} shapes swin_t --size 225 300"""

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


def contract_report(arch: str, size: tuple[int, int], levels: bool) -> str:
    """The input-size contract of ``backbone(arch)`` at ``size``: the levels (if ``levels``), the
    divisor and the padded size. A refused size raises ValueError with the reason."""
    from .contract import contract
    from .display import Table, fmt_shape

    c = contract(arch, size)
    if c.refused:
        raise ValueError(c.refused)
    out = []
    if levels:
        rows = tuple((f.name, fmt_shape(s), f"/{f.reduction}", f.rounding) for f, s in zip(c.levels, c.shapes,
                                                                                            strict=True))
        caption = f"{arch} pyramid, input 3 x {size[0]} x {size[1]} (from the level sizes rule; nothing run)"
        out.append(repr(Table(("level", "output (C x H x W)", "stride", "rounding"), rows, caption)))
    out.append(f"divisor: {c.divisor} (the largest stride); every level is exactly H/stride x W/stride "
               f"when H and W are multiples of {c.divisor}")
    if c.fixed:
        out.append(f"fixed size: {arch} takes only {c.fixed[0]} x {c.fixed[1]}")
    elif c.exact:
        out.append(f"{size[0]} x {size[1]} is exact at every level")
    else:
        out.append(f"{size[0]} x {size[1]} is not: the nearest padded size is {c.padded[0]} x {c.padded[1]} "
                   f"(pad_to_multiple(x, {c.divisor}))")
    out.append(f"minimum side: {c.minimum}")
    return "\n".join(out)


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
    shapes.add_argument("arch", choices=SHAPES_CHOICES, metavar="ARCH", help="one of: " + ", ".join(SHAPES_CHOICES))
    shapes.add_argument("--size", nargs=2, type=int, default=(224, 224), metavar=("H", "W"),
                        help="input height and width (default: 224 224)")
    bench = commands.add_parser(
        "bench", help="measure what each feature-extraction method costs", formatter_class=raw,
        description=BENCH_HELP,
        epilog=BENCH_EXAMPLE,
    )
    bench.add_argument("--quick", action="store_true", help="a smoke run: 64x64 input, 3 rounds")
    bench.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto (default): the CPU, and CUDA too when it is available")
    bench.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 30; 3 with --quick)")
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
            size = (args.size[0], args.size[1])
            report = contract_report(args.arch, size, levels=args.arch not in PREDICTABLE)
            if args.arch in PREDICTABLE:
                print(repr(shapes_table(args.arch, size)))
            print(report)
        except (SizeTooSmall, ValueError) as e:
            cli.exit(2, f"error: {e}\n")
    elif args.command == "bench":
        return run_bench(args, cli)
    return 0


def run_bench(args: argparse.Namespace, cli: argparse.ArgumentParser) -> int:
    import torch

    from . import bench

    if args.device == "cuda" and not torch.cuda.is_available():
        cli.exit(2, "error: --device cuda, but torch.cuda.is_available() is False on this machine\n")
    if args.device == "auto":
        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    else:
        devices = [args.device]
    rounds = args.rounds or (3 if args.quick else 30)
    size = args.size or (64 if args.quick else 224)
    if rounds < 3 or size < 32:
        cli.exit(2, f"error: need --rounds >= 3 and --size >= 32, got {rounds} and {size}\n")
    runs = []
    for device in devices:
        settings = bench.Settings(device=device, size=size, rounds=rounds, warmup=1 if args.quick else 3,
                                  memory=not args.no_memory)

        def progress(step: str, device: str = device) -> None:
            print(f"[bench {device}] {step}", file=sys.stderr, flush=True)

        results = bench.run(settings, progress=progress)
        runs.append(results)
        print(repr(bench.table(results)))
        for line in bench.format_targets(results):
            print(f"  {line}")
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
