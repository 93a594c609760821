"""What the box-and-arrow diagrams share: the canvas, the palette, rounded boxes, arrows, the add.

Chapter 1's residual block and Chapter 4's FPN are drawn with these, so a conv looks the same
in both and a change of style is made once.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

__all__ = ["COLORS", "FONTSIZE", "add_node", "arrow", "box", "canvas", "junction"]

# One colour per kind of thing drawn, in every figure of the package.
COLORS = {
    "conv": "#cfe2f3",  # blue: convolutions
    "norm": "#fff2cc",  # yellow: BatchNorm
    "activation": "#d9ead3",  # green: ReLU
    "other": "#eeeeee",  # grey: any other layer
    "feature": "#fce5cd",  # orange: a backbone's feature map
    "output": "#d9ead3",  # green: what a network returns
    "trainable": "#6aa84f",
    "frozen": "#b7b7b7",
}
FONTSIZE = 8.5  # the text in boxes


def canvas(left: float, right: float, bottom: float, top: float, inch: float = 0.6) -> tuple[Figure, Axes]:
    """A Figure whose single, axis-less Axes spans the drawing at ``inch`` inches per unit, so
    that boxes keep their proportions. Not registered with pyplot."""
    fig = Figure(figsize=(inch * (right - left), inch * (top - bottom)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    return fig, ax


def box(ax: Axes, x: float, y: float, width: float, height: float, text: str, color: str) -> None:
    """A rounded box centred at (x, y), with ``text`` centred in it."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.04",
                                facecolor=color, edgecolor="black", linewidth=1.0, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=FONTSIZE, zorder=4)


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A black arrow from ``start`` to ``end``."""
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="black", lw=1.1))


def add_node(ax: Axes, x: float, y: float, radius: float) -> None:
    """The circled "+" where two paths are added."""
    ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor="black", linewidth=1.2, zorder=3))
    ax.text(x, y, "+", ha="center", va="center", fontsize=14, zorder=4)


def junction(ax: Axes, x: float, y: float) -> None:
    """The dot where one path splits into two, or passes on unchanged."""
    ax.plot([x], [y], marker="o", color="black", markersize=4)
