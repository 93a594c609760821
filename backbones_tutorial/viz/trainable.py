"""Chapter 5: how many parameters each freezing choice leaves trainable."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from backbones_tutorial.extractors.freeze import FreezeReport
from backbones_tutorial.viz._drawing import COLORS

__all__ = ["plot_trainable"]


def plot_trainable(reports: dict[str, FreezeReport]) -> Figure:
    """Trainable against frozen parameters, one horizontal bar per model or configuration.

    ``reports`` maps a label to what ``freeze`` or ``trainable_report`` returned; the bars keep
    its order, top to bottom. Each bar starts with the trainable parameters and continues with
    the frozen ones (``total_params - trainable_params``), so its full length is the total. The
    lengths are the raw counts (the axis is only labelled in millions). As with the other
    figures, the Figure is not registered with pyplot: make it a cell's last value.
    """
    if not isinstance(reports, dict):
        raise TypeError(f"reports must be a dict {{label: FreezeReport}}, got {type(reports).__name__}")
    if not reports:
        raise ValueError(
            "reports is empty; give at least one {label: FreezeReport}, "
            "e.g. {'resnet34, layer1 frozen': freeze(model, ['layer1'])}"
        )
    for label, report in reports.items():
        if not isinstance(report, FreezeReport):
            raise TypeError(
                f"reports[{label!r}] must be a FreezeReport (what freeze and trainable_report return), "
                f"got {type(report).__name__}"
            )

    labels = [str(label) for label in reports]
    trainable = [r.trainable_params for r in reports.values()]
    frozen = [r.total_params - r.trainable_params for r in reports.values()]
    totals = [r.total_params for r in reports.values()]
    rows = list(range(len(labels)))

    fig = Figure(figsize=(10, 1.2 + 0.55 * len(labels)), layout="constrained")
    ax = fig.subplots()
    ax.barh(rows, trainable, color=COLORS["trainable"], label="trainable")
    ax.barh(rows, frozen, left=trainable, color=COLORS["frozen"], label="frozen")
    for row, report in zip(rows, reports.values(), strict=True):
        share = report.trainable_params / report.total_params if report.total_params else 0.0
        text = f" {report.trainable_params:,} / {report.total_params:,} ({share:.0%})"
        ax.text(report.total_params, row, text, va="center", fontsize=8.5)
    ax.set_yticks(rows, labels)
    ax.invert_yaxis()  # the first entry on top
    ax.set_xlim(0, 1.7 * max(max(totals), 1))  # room for the counts right of the longest bar
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value / 1e6:g}M" if value else "0"))
    ax.set_xlabel("parameters (labels: trainable / total)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title("Trainable and frozen parameters")
    fig.legend(loc="outside lower center", ncols=2, frameon=False)  # below the axes, clear of the bars
    return fig
