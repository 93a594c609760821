"""plot_stage_flow draws exactly the claimed (and measured) stage flow, and rejects bad names."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
import torchvision
from matplotlib.figure import Figure

from backbones_tutorial.shapes.measure import find_claim
from backbones_tutorial.viz import FLOW_STAGES, plot_stage_flow


def claimed_flow(model: str, input_shape: tuple[int, int, int]) -> list[tuple[int, ...]]:
    """(C, H, W) of the input and of each plotted stage, straight from the claims record."""
    claim = find_claim(model, input_shape)
    by_name = {s.name: s.shape for s in claim.stages}
    return [claim.input_shape] + [by_name[name] for name in FLOW_STAGES]


@pytest.fixture(autouse=True)
def checked(monkeypatch):
    """The claims the figure checked (``check_claim`` recorded, not re-run: tests/test_claims.py
    measures every claim against the models, so the figure's tests need only prove that it checks)."""
    seen: list = []
    monkeypatch.setattr("backbones_tutorial.viz.stage_flow.check_claim", seen.append)
    return seen


def test_flow_stages_are_the_stems_subsampling_layers_then_torchvisions_stage_names():
    # Written from torchvision's ResNet attribute names, not from the package.
    assert FLOW_STAGES == ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")
    with torch.device("meta"):
        children = dict(torchvision.models.resnet18(weights=None).named_children())
    assert all(name in children for name in FLOW_STAGES)


@pytest.mark.parametrize(
    ("model_names", "input_shape"),
    [
        (["resnet18", "resnet50"], (3, 224, 224)),
        ("resnet34", (3, 225, 300)),
    ],
)
def test_plot_stage_flow_plots_the_claimed_heights_and_channels(model_names, input_shape, checked):
    fig = plot_stage_flow(model_names, input_shape)
    assert isinstance(fig, Figure)
    ax_h, ax_c = fig.axes
    names = [model_names] if isinstance(model_names, str) else model_names
    assert [line.get_label() for line in ax_h.lines] == names
    assert [line.get_label() for line in ax_c.lines] == names
    for name, line_h, line_c in zip(names, ax_h.lines, ax_c.lines, strict=True):
        flow = claimed_flow(name, input_shape)
        assert list(line_h.get_xdata()) == ["input", *FLOW_STAGES]
        assert [int(v) for v in line_h.get_ydata()] == [shape[1] for shape in flow]
        assert [int(v) for v in line_c.get_ydata()] == [shape[0] for shape in flow]
    assert [c.model for c in checked] == names and all(c.input_shape == input_shape for c in checked)


def test_plot_stage_flow_of_resnet34_halves_height_down_to_stride_32():
    # Written from Table 1 of He et al. (2015), not from the claims record.
    ax_h, ax_c = plot_stage_flow("resnet34").axes
    assert [int(v) for v in ax_h.lines[0].get_ydata()] == [224, 112, 56, 56, 28, 14, 7]
    assert [int(v) for v in ax_c.lines[0].get_ydata()] == [3, 64, 64, 64, 128, 256, 512]


def test_plot_stage_flow_leaves_pyplot_state_alone():
    before = plt.get_fignums()
    plot_stage_flow("resnet18")
    assert plt.get_fignums() == before


@pytest.mark.parametrize("bad", ["resnet35", "basic_block_identity"])
def test_plot_stage_flow_rejects_a_name_that_is_not_a_claimed_network(bad):
    with pytest.raises(ValueError, match=r"valid choices: .*'resnet34'") as err:
        plot_stage_flow(["resnet34", bad])
    assert repr(bad) in str(err.value)


def test_plot_stage_flow_rejects_an_unclaimed_input_shape_naming_the_claimed_ones():
    with pytest.raises(ValueError, match=r"claimed input shapes: \[\(3, 224, 224\)\]"):
        plot_stage_flow("resnet18", (3, 64, 64))


def test_plot_stage_flow_rejects_an_empty_list():
    with pytest.raises(ValueError, match="empty"):
        plot_stage_flow([])
