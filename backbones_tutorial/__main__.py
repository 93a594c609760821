"""Command line: ``shapes ARCH --size H W`` and ``bench [--quick]``."""

from __future__ import annotations

import argparse
import pathlib
import sys

from .display import Table, fmt_int, fmt_shape
from .predict import SizeTooSmall, checked_prediction
from .registry import PREDICTABLE


def shapes_table(arch: str, size: tuple[int, int]) -> Table:
    rows = tuple(
        (r.name, fmt_shape(r.shape), f"/{r.reduction}" if r.reduction else "-", fmt_int(r.params))
        for r in checked_prediction(arch, size)
    )
    caption = f"{arch}, input 3 x {size[0]} x {size[1]} (predicted from the conv and pool arithmetic)"
    return Table(("stage", "output (C x H x W)", "stride", "parameters"), rows, caption)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backbones_tutorial", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    shapes = commands.add_parser("shapes", help="print each stage's output shape, stride and parameters")
    shapes.add_argument("arch", choices=PREDICTABLE, metavar="ARCH",
                        help="one of: " + ", ".join(PREDICTABLE))
    shapes.add_argument("--size", nargs=2, type=int, default=(224, 224), metavar=("H", "W"),
                        help="input height and width (default: 224 224)")
    bench = commands.add_parser("bench", help="measure what each feature-extraction method costs")
    bench.add_argument("--quick", action="store_true", help="a smoke run: 64x64 input, 3 rounds")
    bench.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto (default): the CPU, and CUDA too when it is available")
    bench.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 30; 3 with --quick)")
    bench.add_argument("--size", type=int, default=None, help="input side (default 224; 64 with --quick)")
    bench.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    bench.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench-results/bench.json"),
                       help="JSON file to write (default: bench-results/bench.json)")
    bench.add_argument("--plot", type=pathlib.Path, default=None, help="also draw the ratios to this PNG file")
    args = parser.parse_args(argv)

    if args.command == "shapes":
        try:
            print(repr(shapes_table(args.arch, tuple(args.size))))
        except (SizeTooSmall, ValueError) as e:
            parser.exit(2, f"error: {e}\n")
    elif args.command == "bench":
        return run_bench(args, parser)
    return 0


def run_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import torch

    from . import bench

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.exit(2, "error: --device cuda, but torch.cuda.is_available() is False on this machine\n")
    devices = ["cpu", "cuda"] if args.device == "auto" and torch.cuda.is_available() else [args.device.replace("auto", "cpu")]
    rounds = args.rounds or (3 if args.quick else 30)
    size = args.size or (64 if args.quick else 224)
    if rounds < 3 or size < 32:
        parser.exit(2, f"error: need --rounds >= 3 and --size >= 32, got {rounds} and {size}\n")
    runs = []
    for device in devices:
        settings = bench.Settings(device=device, size=size, rounds=rounds, warmup=1 if args.quick else 3,
                                  memory=not args.no_memory)
        results = bench.run(settings, progress=lambda s: print(f"[bench {device}] {s}", file=sys.stderr, flush=True))
        runs.append(results)
        print(repr(bench.table(results)))
        for text, ok in bench.targets(results):
            print(f"  {'met' if ok else 'MISSED'}: {text}")
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
