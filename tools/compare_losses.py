"""Train the U-Net with the defaults and one loss over several seeds; merge the runs into a record.

    python tools/compare_losses.py --loss weighted-ce+dice --seeds 0 1 2 3 4
    python tools/compare_losses.py --loss ce+dice --seeds 0 1 2 3 4

Each call replaces that loss's runs in ``book/data/losses.json`` (the other losses' runs stay, and
must have been trained with the same settings), so the two losses can run as two processes. The
settings are ``segment.TrainSettings()``'s defaults (the ``segment`` command's), one torch thread.
"""

import argparse
import json
import pathlib
import sys

import torch

from backbones_tutorial.segmentation import freeze_study as freezing
from backbones_tutorial.segmentation import training as segment

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--loss", required=True, choices=tuple(segment.LOSSES))
    cli.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    cli.add_argument("--out", default=str(ROOT / "book" / "data" / "losses.json"))
    args = cli.parse_args(argv)
    torch.set_num_threads(1)
    record = freezing.run_loss(segment.TrainSettings(), args.loss, args.seeds,
                               progress=lambda line: print(line, file=sys.stderr, flush=True))
    out = pathlib.Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else None  # read late: another loss may have finished
    merged = freezing.merge_losses(old, record)
    freezing.save(merged, out)
    print(repr(freezing.loss_table(merged)))


if __name__ == "__main__":
    main()
