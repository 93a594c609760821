"""Chapter 6: what each extraction method costs, relative to the bare forward."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

if TYPE_CHECKING:  # bench imports torchvision and the methods; the figure only reads its records
    from ..bench import Results


def plot_bench(runs: Sequence[Results]) -> Figure:
    """Median time of each extraction method relative to the bare forward, one panel per
    workload, with the 95 % bootstrap interval of each median as its error bar.

    ``runs`` is what ``bench.load(path)`` returns: one bar per run (device) and method.
    """
    if not runs:
        raise ValueError(f"plot_bench needs at least one run (bench.load(path)), got {runs!r}")
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
        ax.set_xlabel("time / bare forward (median)")
    axes[0].invert_yaxis()
    if len(runs) > 1:
        axes[-1].legend()
    fig.tight_layout()
    return fig
