"""Chapter 8: samples of the synthetic task with their masks, predictions, the learning curve and
the freezing comparison."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from backbones_tutorial.checks import check_choice
from backbones_tutorial.segmentation.synthetic import CLASSES, PALETTE

__all__ = ["LOSS_NAMES", "MASK_COLORS", "plot_freezing", "plot_history", "plot_samples"]

MASK_COLORS = ListedColormap([(0.12, 0.12, 0.12), *PALETTE[1:]])  # background dark, each class its colour


def plot_samples(images: np.ndarray, masks: np.ndarray, predictions: np.ndarray | None = None) -> Figure:
    """One column per image: the image, its mask, and the prediction if given."""
    if images.ndim != 4 or masks.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"expected images (N, 3, H, W) and masks (N, H, W), got {images.shape} and {masks.shape}")
    rows = [("image", None), ("mask", masks)] + ([("prediction", predictions)] if predictions is not None else [])
    n = len(images)
    fig = Figure(figsize=(1.9 * n, 1.7 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), n, squeeze=False)
    for i in range(n):
        for r, (label, values) in enumerate(rows):
            ax = axes[r, i]
            if values is None:
                ax.imshow(images[i].transpose(1, 2, 0))
            else:
                ax.imshow(values[i], cmap=MASK_COLORS, vmin=0, vmax=len(CLASSES) - 1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(label)
    fig.suptitle("  ".join(f"{name}: {color}" for name, color in
                           zip(CLASSES, ("dark", "red", "green", "blue", "yellow"), strict=True)), fontsize=9)
    return fig


LOSS_NAMES = {"weighted-ce+dice": "weighted cross-entropy + Dice", "ce+dice": "cross-entropy + Dice"}  # LOSSES


def plot_history(history: Sequence[tuple[int, float, float]], loss: str = "weighted-ce+dice") -> Figure:
    """The training loss at each step; ``loss`` is the one trained with (a key of ``training.LOSSES``)."""
    check_choice(loss, LOSS_NAMES, "loss")
    steps = [h[0] for h in history]
    losses = [h[2] for h in history]
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(steps, losses, lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss ({LOSS_NAMES[loss]})")
    ax.grid(True, alpha=0.3)
    return fig


def plot_freezing(runs_by_mode: dict[str, list[dict]]) -> Figure:
    """Held-out mIoU of every run (a dot per seed) and BN drift, per freeze mode."""
    modes = list(runs_by_mode)
    fig = Figure(figsize=(9, 3), layout="constrained")
    left, right = fig.subplots(1, 2)
    for x, mode in enumerate(modes):
        runs = runs_by_mode[mode]
        left.scatter([x] * len(runs), [r["miou"] for r in runs], color="C0")
        right.scatter([x] * len(runs), [r["bn_drift"] for r in runs], color="C1")
    for ax, label in ((left, "held-out mIoU"), (right, "BN drift (running means, in std)")):
        ax.set_xticks(range(len(modes)), modes)
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_xlim(-0.5, len(modes) - 0.5)
    return fig
