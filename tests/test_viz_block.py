"""draw_residual_block draws the real block: its layers in forward order, its shortcut, its channels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from backbones_tutorial.viz import draw_residual_block

# What each diagram must say, top to bottom, written from the paper's blocks (not from the code):
# the residual path ending in the add and the final ReLU, and what sits on the shortcut.
BASIC_64 = ["conv 3x3, stride 1\n64 → 64 channels", "BatchNorm (64)", "ReLU",
            "conv 3x3, stride 1\n64 → 64 channels", "BatchNorm (64)"]
BASIC_64_TO_128 = ["conv 3x3, stride 2\n64 → 128 channels", "BatchNorm (128)", "ReLU",
                   "conv 3x3, stride 1\n128 → 128 channels", "BatchNorm (128)"]


def bottleneck(c_in: int) -> list[str]:
    return [f"conv 1x1, stride 1\n{c_in} → 64 channels", "BatchNorm (64)", "ReLU",
            "conv 3x3, stride 1\n64 → 64 channels", "BatchNorm (64)", "ReLU",
            "conv 1x1, stride 1\n64 → 256 channels", "BatchNorm (256)"]


CASES = {
    ("basic", False): ("input x: 64 channels, H x W", BASIC_64, ["identity"], "output: 64 channels, H x W"),
    ("basic", True): ("input x: 64 channels, H x W", BASIC_64_TO_128,
                      ["conv 1x1, stride 2\n64 → 128 channels", "BatchNorm (128)"], "output: 128 channels, H/2 x W/2"),
    ("bottleneck", False): ("input x: 256 channels, H x W", bottleneck(256), ["identity"],
                            "output: 256 channels, H x W"),
    ("bottleneck", True): ("input x: 64 channels, H x W", bottleneck(64),
                           ["conv 1x1, stride 1\n64 → 256 channels", "BatchNorm (256)"], "output: 256 channels, H x W"),
}


def column(fig: Figure, x: float) -> list[str]:
    """The non-empty text labels centred at ``x`` (data units), top to bottom."""
    (ax,) = fig.axes
    texts = [t for t in ax.texts if t.get_text() and t.get_position()[0] == pytest.approx(x)]
    return [t.get_text() for t in sorted(texts, key=lambda t: -t.get_position()[1])]


@pytest.mark.parametrize(("kind", "projection"), list(CASES))
def test_draw_residual_block_labels_layers_in_forward_order_with_their_channels(kind: str, projection: bool) -> None:
    first, residual, shortcut, last = CASES[kind, projection]
    fig = draw_residual_block(kind, projection)
    assert isinstance(fig, Figure)
    assert column(fig, 0) == [first, *residual, "+", "ReLU", last]
    (ax,) = fig.axes
    right_x = max(t.get_position()[0] for t in ax.texts if t.get_text() == "shortcut")
    assert column(fig, right_x) == ["shortcut", *shortcut]


def test_draw_residual_block_rejects_an_unknown_kind_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"'resnext'.*valid choices: 'basic', 'bottleneck'"):
        draw_residual_block("resnext")


def test_draw_residual_block_rejects_a_projection_that_is_not_a_bool() -> None:
    with pytest.raises(TypeError, match="projection must be True or False"):
        draw_residual_block("basic", projection="yes")  # type: ignore[arg-type]


def test_draw_residual_block_leaves_pyplot_state_alone() -> None:
    before = plt.get_fignums()
    draw_residual_block("bottleneck", projection=True)
    assert plt.get_fignums() == before
