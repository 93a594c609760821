"""Command line: ``python -m backbones_tutorial shapes ARCH --size H W``."""

from __future__ import annotations

import argparse
import sys

from .display import Table, fmt_int, fmt_shape
from .predict import ARCHS, SizeTooSmall, checked_prediction


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
    shapes.add_argument("arch", choices=sorted(ARCHS, key=lambda a: (a[:3], len(a), a)), metavar="ARCH",
                        help="one of: " + ", ".join(ARCHS))
    shapes.add_argument("--size", nargs=2, type=int, default=(224, 224), metavar=("H", "W"),
                        help="input height and width (default: 224 224)")
    args = parser.parse_args(argv)

    if args.command == "shapes":
        try:
            print(repr(shapes_table(args.arch, tuple(args.size))))
        except (SizeTooSmall, ValueError) as e:
            parser.exit(2, f"error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
