"""plot_bench draws one bar per method and run, with the median ratio as its length and the
95 % interval of the median as its error bar, one panel per workload."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from backbones_tutorial.bench.results import BenchSettings, MethodResult, Results
from backbones_tutorial.viz import plot_bench, plot_blocks


def row(method: str, median: float, iqr: tuple[float, float]) -> MethodResult:
    return MethodResult(method=method, ratio_median=median, ratio_interval=iqr, verdict="within", rounds=30,
                        settled=True, ms_median=10.0, params=1, peak_memory_mib=None)


def run(device: str, scale: float) -> Results:
    """A run by hand: two workloads, two methods; ``scale`` makes each device's numbers differ."""
    return Results(
        settings=BenchSettings(device=device),
        machine={},
        workloads={
            "all stages": [row("hooks", 1.5 * scale, (1.25 * scale, 2.0 * scale)), row("fx", 1.0, (0.75, 1.25))],
            "layer2 only": [row("hooks", 3.0 * scale, (2.5 * scale, 3.5 * scale)), row("fx", 0.5, (0.25, 0.75))],
        },
    )


def bar_containers(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def bars(ax) -> list[list[float]]:
    return [[p.get_width() for p in container] for container in bar_containers(ax)]


def error_bars(ax) -> list[list[tuple[float, float]]]:
    """(left, right) end of each error bar, per run."""
    out = []
    for container in bar_containers(ax):
        (segments,) = [c.get_segments() for c in container.errorbar.lines[2]]
        out.append([(float(s[0][0]), float(s[1][0])) for s in segments])
    return out


def test_plot_bench_draws_each_median_with_its_interval_per_workload():
    fig = plot_bench([run("cpu", 1.0), run("cuda", 2.0)])
    assert isinstance(fig, Figure)
    ax_all, ax_l2 = fig.axes
    assert (ax_all.get_title(), ax_l2.get_title()) == ("all stages", "layer2 only")
    assert [t.get_text() for t in ax_all.get_yticklabels()] == ["hooks", "fx"]
    assert bars(ax_all) == [[1.5, 1.0], [3.0, 1.0]]  # one container per run, one bar per method
    assert bars(ax_l2) == [[3.0, 0.5], [6.0, 0.5]]
    assert error_bars(ax_all) == [[(1.25, 2.0), (0.75, 1.25)], [(2.5, 4.0), (0.75, 1.25)]]
    assert error_bars(ax_l2) == [[(2.5, 3.5), (0.25, 0.75)], [(5.0, 7.0), (0.25, 0.75)]]
    assert [t.get_text() for t in ax_l2.get_legend().get_texts()] == ["cpu", "cuda"]
    assert [line.get_xdata()[0] for line in ax_all.lines] == [1.0]  # the bare forward's line


def test_plot_bench_of_one_run_needs_no_legend_and_leaves_pyplot_alone():
    before = plt.get_fignums()
    fig = plot_bench([run("cpu", 1.0)])
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert plt.get_fignums() == before


def test_plot_bench_rejects_no_runs_saying_where_runs_come_from():
    with pytest.raises(ValueError, match=r"at least one run \(bench.load_runs\(path\)\), got \[\]"):
        plot_bench([])


def blocks_run() -> Results:
    """Two comparisons near 1 and one far from it, each with its blocks' medians."""
    near = MethodResult("fx", 1.01, (0.99, 1.03), "within", 60, True, 10.0, 1, None, [1.0, 1.02, 1.01])
    near2 = MethodResult("children", 0.98, (0.95, 1.01), "undecided", 60, False, 10.0, 1, None, [0.97, 0.99, 0.98])
    far = MethodResult("hooks", 2.2, (2.1, 2.3), "slower", 60, True, 10.0, 1, None, [2.1, 2.2, 2.3])
    scratch = {"ratio_median": 1.0, "ratio_interval": [0.995, 1.005], "block_ratios": [0.999, 1.001, 1.0]}
    return Results(settings=BenchSettings(), machine={}, workloads={"layer2 only": [near, near2, far]},
                   scratch_vs_torchvision=scratch)


def test_plot_blocks_draws_each_blocks_median_and_the_interval_of_the_ratios_near_1():
    fig = plot_blocks(blocks_run())
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["layer2 only / fx", "layer2 only / children", "from-scratch ResNet34"]  # not the hooks
    dots = [list(line.get_xdata()) for line in ax.lines if line.get_marker() == "o"]
    assert dots == [[1.0, 1.02, 1.01], [0.97, 0.99, 0.98], [0.999, 1.001, 1.0]]
    bars = [list(line.get_xdata()) for line in ax.lines if line.get_linewidth() == 3]
    assert bars == [[0.99, 1.03], [0.95, 1.01], [0.995, 1.005]]
    (band,) = ax.patches
    assert band.get_x() == pytest.approx(0.97) and band.get_width() == pytest.approx(0.06)  # the tolerance
    with pytest.raises(ValueError, match="no comparison of the run has a ratio within 0.0 of 1"):
        plot_blocks(blocks_run(), near=0.0)
