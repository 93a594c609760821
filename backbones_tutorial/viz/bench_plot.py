"""Chapter 6: what each extraction method costs, relative to the bare forward."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:  # bench imports torchvision and the methods; the figure only reads its records
    from backbones_tutorial.bench.results import Results

__all__ = ["plot_bench", "plot_blocks"]


def plot_bench(runs: Sequence[Results]) -> Figure:
    """Time of each extraction method relative to the bare forward (the mean of the blocks'
    median ratios), one panel per workload, with its 95 % t interval as the error bar.

    ``runs`` is what ``bench.load_runs(path)`` returns: one bar per run (device) and method.
    """
    if not runs:
        raise ValueError(f"plot_bench needs at least one run (bench.load_runs(path)), got {runs!r}")
    workloads = list(runs[0].workloads)
    fig = Figure(figsize=(4.2 * len(workloads), 0.45 * len(runs[0].workloads[workloads[0]]) * len(runs) + 1.6))
    axes = fig.subplots(1, len(workloads), sharey=True, squeeze=False)[0]
    for ax, workload in zip(axes, workloads, strict=True):
        for k, run in enumerate(runs):
            rows = run.workloads[workload]
            y = [i + 0.8 * k / len(runs) for i in range(len(rows))]
            medians = [r.ratio_median for r in rows]
            err = [[r.ratio_median - r.ratio_interval[0] for r in rows],
                   [r.ratio_interval[1] - r.ratio_median for r in rows]]
            ax.barh(y, medians, height=0.8 / len(runs), xerr=err, label=run.settings.device, color=f"C{k}", alpha=0.85)
        ax.set_yticks(range(len(rows)), [r.method for r in rows])
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(workload)
        ax.set_xlabel("time / bare forward")
    axes[0].invert_yaxis()
    if len(runs) > 1:
        axes[-1].legend()
    fig.tight_layout()
    return fig


def plot_blocks(run: Results, near: float = 0.1) -> Figure:
    """Each block's median ratio (a dot per fresh process) and the 95 % t interval over the blocks
    (a bar), for every comparison of ``run`` whose ratio is within ``near`` of 1, with the band of
    the verdict's tolerance shaded: what the verdicts are decided from."""
    rows = [(f"{w} / {r.method}", r.block_ratios, r.ratio_median, r.ratio_interval)
            for w, results in run.workloads.items() for r in results]
    s = run.scratch_vs_torchvision
    rows.append(("from-scratch ResNet34", s["block_ratios"], s["ratio_median"], tuple(s["ratio_interval"])))
    rows = [r for r in rows if abs(r[2] - 1) < near]
    if not rows:
        raise ValueError(f"plot_blocks: no comparison of the run has a ratio within {near} of 1")
    fig = Figure(figsize=(6.4, 0.42 * len(rows) + 1.3))
    ax = fig.subplots()
    tol = run.settings.tolerance
    ax.axvspan(1 - tol, 1 + tol, color="C2", alpha=0.12, label=f"within {tol:.0%}")
    ax.axvline(1.0, color="black", linewidth=0.8)
    for i, (_, blocks, ratio, (lo, hi)) in enumerate(rows):  # dots just above the bar, so none hides
        ax.plot(blocks, [i - 0.2] * len(blocks), "o", color="C0", markersize=3.5, alpha=0.7,
                label="one block's median" if i == 0 else None)
        ax.plot([lo, hi], [i + 0.1, i + 0.1], color="C3", linewidth=3, solid_capstyle="butt",
                label="95 % t interval" if i == 0 else None)
        ax.plot([ratio], [i + 0.1], "|", color="C3", markersize=12)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel("time / reference")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize="small")
    fig.tight_layout()
    return fig
