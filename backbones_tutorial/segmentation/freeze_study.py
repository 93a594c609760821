"""The freezing comparison: every freeze mode over several seeds, from one pretrained backbone.

``run_study`` trains one U-Net per (mode, seed) with the same settings otherwise and returns a record
that ``save`` writes as JSON (``book/data/segment.json``, read by chapter 8 like chapter 6 reads
``bench.json``); ``study_table`` summarises it per mode, with the spread over seeds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import platform
from collections.abc import Callable, Sequence

import numpy as np

from backbones_tutorial.display import Table
from backbones_tutorial.extractors.freeze_modes import FREEZE_MODES
from backbones_tutorial.segmentation import synthetic
from backbones_tutorial.segmentation.training import TrainSettings, build_model, stat_shift, train

__all__ = ["by_mode", "checkpoint_info", "load_study", "loss_table", "merge_losses", "pretrained_shift", "run_loss",
           "run_study", "save_study", "study_table"]


def run_study(base: TrainSettings, seeds: Sequence[int], modes: Sequence[str] = tuple(FREEZE_MODES),
        progress: Callable[[str], None] | None = None) -> dict:
    """Train ``base`` once per mode and seed (``base.freeze`` and ``base.seed`` are replaced)."""
    if not seeds:
        raise ValueError("need at least one seed, got none")
    runs = [dataclasses.replace(base, freeze=mode, seed=seed) for mode in modes for seed in seeds]  # checks them all
    results = []
    for settings in runs:
        if progress is not None:
            progress(f"freeze={settings.freeze} seed={settings.seed}")
        results.append(train(settings, progress).summary())
    return {"settings": dataclasses.asdict(base), "seeds": list(seeds), "modes": list(modes),
            "pretrained": checkpoint_info(base.pretrained) if base.pretrained else None,
            "stat_shift": pretrained_shift(base) if base.pretrained else None,
            "machine": {"processor": platform.processor() or platform.machine(), "python": platform.python_version()},
            "runs": results}


def pretrained_shift(base: TrainSettings) -> dict[str, dict[str, float]]:
    """``stat_shift`` of the pretrained backbone, per stage, on the held-out (target) images and on
    as many images of the pretraining stream: how far the target is from what the backbone saw."""
    backbone = build_model(dataclasses.replace(base, freeze="none")).backbone
    images = {"target": synthetic.validation_set(base.valid_images, base.size).images,
              "pretrain": synthetic.dataset("pretrain", 10_000, base.valid_images, base.size).images}
    return {name: stat_shift(backbone, x) for name, x in images.items()}


def checkpoint_info(path: str | pathlib.Path) -> dict:
    """What a ``pretrain`` checkpoint says about itself: backbone, task, steps, batch size, seed."""
    import torch

    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v for k, v in checkpoint.items() if k != "state_dict"}


def save_study(record: dict, path: str | pathlib.Path) -> None:
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(path).write_text(json.dumps(record, indent=1) + "\n")


def load_study(path: str | pathlib.Path) -> dict:
    record = json.loads(pathlib.Path(path).read_text())
    missing = {"settings", "seeds", "modes", "runs"} - record.keys()
    if missing:
        raise ValueError(f"{path} is not a freezing record: it lacks {sorted(missing)}")
    return record


def by_mode(record: dict) -> dict[str, list[dict]]:
    """The runs of each mode, in the record's order of modes."""
    return {mode: [r for r in record["runs"] if r["freeze"] == mode] for mode in record["modes"]}


def study_table(record: dict) -> Table:
    """Per mode: held-out mIoU (mean, min-max over seeds), trainable parameters, time per step, BN drift."""
    rows = []
    for mode, runs in by_mode(record).items():
        miou = np.array([r["miou"] for r in runs])
        step_ms = 1000 * np.array([r["seconds_per_step"] for r in runs])
        drift = np.array([r["bn_drift"] for r in runs])
        rows.append((mode, f"{miou.mean():.3f}", f"{miou.min():.3f}-{miou.max():.3f}",
                     f"{runs[0]['trainable_params']:,}", f"{np.median(step_ms):.0f}", f"{drift.mean():.3f}"))
    caption = (f"{len(record['seeds'])} seeds, batch {record['settings']['batch_size']}, "
               f"{record['settings']['max_steps']} steps at most")
    return Table(("freeze", "mIoU (mean)", "mIoU (min-max)", "trainable", "ms / step", "BN drift"), tuple(rows),
                 caption)


# --- the loss comparison (tools/compare_losses.py writes book/data/losses.json) ---------------------

def run_loss(base: TrainSettings, loss: str, seeds: Sequence[int],
             progress: Callable[[str], None] | None = None) -> dict:
    """Train ``base`` with ``loss`` once per seed; the runs of a loss comparison record."""
    if not seeds:
        raise ValueError("need at least one seed, got none")
    runs = [dataclasses.replace(base, loss=loss, seed=seed) for seed in seeds]  # checks them all
    results = []
    for settings in runs:
        if progress is not None:
            progress(f"loss={settings.loss} seed={settings.seed}")
        load_before = _load()
        result = train(settings, progress).summary()
        results.append(result | {"load_average": [load_before, _load()]})
    return {"settings": dataclasses.asdict(base), "seeds": list(seeds), "losses": [loss],
            "machine": {"processor": platform.processor() or platform.machine(), "python": platform.python_version(),
                        "cpus": os.cpu_count()},
            "runs": results}


def _load() -> float:
    """The 1-minute load average (how busy the shared machine was), or -1 where there is none."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0


def merge_losses(old: dict | None, new: dict) -> dict:
    """``new``'s runs in place of ``old``'s runs of the same loss; the settings must agree."""
    if old is None:
        return new
    old, new = json.loads(json.dumps(old)), json.loads(json.dumps(new))  # as saved: tuples become lists
    if old["settings"] | {"loss": None} != new["settings"] | {"loss": None}:
        raise ValueError(f"the records were trained with different settings: {old['settings']} vs {new['settings']}")
    losses = [x for x in old["losses"] if x not in new["losses"]] + new["losses"]
    runs = [r for r in old["runs"] if r["loss"] not in new["losses"]] + new["runs"]
    return old | {"losses": losses, "runs": runs, "seeds": sorted({r["seed"] for r in runs})}


def loss_table(record: dict) -> Table:
    """Per loss and seed: held-out IoU of each class and mIoU, steps and time per step."""
    classes = list(record["runs"][0]["iou"])
    rows = tuple((r["loss"], str(r["seed"]), *(f"{r['iou'][c]:.2f}" for c in classes), f"{r['miou']:.3f}",
                  str(r["steps"]), f"{1000 * r['seconds_per_step']:.0f}")
                 for loss in record["losses"] for r in record["runs"] if r["loss"] == loss)
    s = record["settings"]
    caption = f"batch {s['batch_size']}, {s['max_steps']} steps or {s['seconds']:g} s, held-out IoU per class"
    return Table(("loss", "seed", *classes, "mIoU", "steps", "ms / step"), rows, caption)
