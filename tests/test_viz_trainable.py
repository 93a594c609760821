"""plot_trainable draws each FreezeReport as trainable + frozen bars of the right lengths."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from torch import nn

from backbones_tutorial.extractors.freeze import FreezeReport, freeze, trainable_report
from backbones_tutorial.viz import plot_trainable


def reports() -> dict[str, FreezeReport]:
    conv_bn = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 1))  # 216 + 16 + 36
    return {
        "by hand": FreezeReport(trainable_params=30, total_params=100, trainable=("head",)),
        "nothing frozen": trainable_report(conv_bn),
        "first conv frozen, BN kept": freeze(conv_bn, ["0"], batchnorm="train"),
        "all frozen": FreezeReport(trainable_params=0, total_params=50, trainable=()),
    }


def test_plot_trainable_bars_have_the_lengths_of_the_report_counts():
    given = reports()
    # Written from the layer sizes, not from the function under test.
    assert [(r.trainable_params, r.total_params) for r in given.values()] == [(30, 100), (268, 268), (52, 268), (0, 50)]

    fig = plot_trainable(given)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    trainable_bars, frozen_bars = ax.containers
    assert trainable_bars.get_label() == "trainable"
    assert frozen_bars.get_label() == "frozen"
    assert [p.get_width() for p in trainable_bars] == [30, 268, 52, 0]
    assert [p.get_x() for p in trainable_bars] == [0, 0, 0, 0]
    assert [p.get_width() for p in frozen_bars] == [70, 0, 216, 50]
    assert [p.get_x() for p in frozen_bars] == [30, 268, 52, 0]  # frozen continues where trainable ends
    assert [p.get_x() + p.get_width() for p in frozen_bars] == [100, 268, 268, 50]  # the whole bar is the total


def test_plot_trainable_keeps_the_dict_order_top_to_bottom_with_its_labels():
    given = reports()
    (ax,) = plot_trainable(given).axes
    ticks = {round(t): label.get_text() for t, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)}
    rows = [ticks[round(p.get_y() + p.get_height() / 2)] for p in ax.containers[0]]
    assert rows == list(given)
    assert ax.yaxis_inverted()  # row 0, the first entry, is drawn on top
    texts = [t.get_text().strip() for t in ax.texts]
    assert texts[0] == "30 / 100 (30%)"
    assert texts[2] == "52 / 268 (19%)"


def test_plot_trainable_leaves_pyplot_state_alone():
    before = plt.get_fignums()
    plot_trainable({"one": FreezeReport(1, 2, ())})
    assert plt.get_fignums() == before


def test_plot_trainable_rejects_an_empty_dict_clearly():
    with pytest.raises(ValueError, match=r"reports is empty; give at least one \{label: FreezeReport\}"):
        plot_trainable({})


def test_plot_trainable_rejects_a_value_that_is_not_a_freeze_report():
    with pytest.raises(TypeError, match=r"reports\['bad'\] must be a FreezeReport .* got int"):
        plot_trainable({"ok": FreezeReport(1, 2, ()), "bad": 3})
    with pytest.raises(TypeError, match="must be a dict"):
        plot_trainable([FreezeReport(1, 2, ())])
