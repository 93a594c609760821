"""Chapter 4: a Feature Pyramid Network on a backbone's levels, with their real sizes."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from backbones_tutorial.checks import is_int, size_hint
from backbones_tutorial.pyramids.levels import FeatureInfo, Levels
from backbones_tutorial.viz._drawing import COLORS, add_node, arrow, box, canvas, junction

__all__ = ["draw_fpn"]


def _check_fpn_args(feature_info: object, out_channels: object, size: object) -> tuple[Levels, list[int]]:
    """What draw_fpn needs beyond what ``Levels`` checks; return the levels and each one's
    pyramid index k (level ``Ck`` has reduction ``2**k``)."""
    if not isinstance(feature_info, (list, tuple)) or not feature_info:
        raise ValueError(
            "feature_info must be a Levels or a non-empty list of FeatureInfo, fine to coarse, e.g. "
            f"resnet_features(50).feature_info[1:]; got {feature_info!r}"
        )
    levels = Levels(feature_info)  # each a FeatureInfo, distinct names, fine to coarse
    for f in levels:
        if f.reduction < 2 or f.reduction & (f.reduction - 1):
            raise ValueError(
                f"draw_fpn labels a level Ck from k = log2(reduction), so each reduction must be a power of 2 "
                f"(2, 4, 8, ...); got reduction {f.reduction} for level {f.name!r}"
            )
    if len(set(levels.reductions)) != len(levels):
        raise ValueError(
            "draw_fpn draws one pyramid level per reduction, so reductions must grow strictly; got reductions "
            f"{levels.reductions} for {levels.names}"
        )
    if not is_int(out_channels):
        raise ValueError(f"out_channels must be a positive int, got {out_channels!r}")
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)):
        raise ValueError(f"size must be the input's (H, W) as two positive ints, e.g. (224, 224); got {size!r}"
                         f"{size_hint(size)}")
    return levels, [f.reduction.bit_length() - 1 for f in levels]  # 4 -> 2 (C2), 32 -> 5 (C5)


def draw_fpn(
    feature_info: Levels | Sequence[FeatureInfo], out_channels: int = 256, size: tuple[int, int] = (224, 224)
) -> Figure:
    """Draw a Feature Pyramid Network on the given bottom-up levels, with their real sizes.

    ``feature_info`` lists the levels the FPN reads, fine to coarse (for a ResNet, ``C2..C5`` =
    ``feature_info[1:]``, without the stem); level ``Ck`` has reduction ``2**k``. For an input of
    ``size`` = (H, W) each level's side is the pyramid's size rule, ``feature_info.sizes(H, W)``
    (a slice keeps the whole chain it came from, so Swin's mixed roundings are exact). The drawing shows the
    bottom-up levels, the 1x1 laterals, the top-down path (each arrow upsamples to the exact size
    of the level below), the adds, and the 3x3 outputs ``P2..P5`` with ``out_channels`` each.
    Like the other figures here it is not registered with pyplot: make it a cell's last value,
    or call ``fig.savefig``.
    """
    levels, indices = _check_fpn_args(feature_info, out_channels, size)
    height, width = size
    hw = ["{} x {}".format(*hw) for hw in levels.sizes(height, width)]
    n = len(levels)

    step, box_h, radius = 1.7, 0.82, 0.24
    x_c, x_l, x_m, x_o, x_p = 0.0, 3.5, 5.9, 8.4, 11.1  # bottom-up, lateral, add, output conv, P level
    w_c, w_l, w_o, w_p = 2.7, 1.9, 1.9, 2.3
    ys = [i * step for i in range(n)]  # the finest level at the bottom, as in the paper's figure
    left, right, bottom, top = x_c - w_c / 2 - 0.3, x_p + w_p / 2 + 0.3, -1.6, ys[-1] + 1.6
    fig, ax = canvas(left, right, bottom, top)

    title = f"FPN on C{indices[0]}..C{indices[-1]} for an input of {height} x {width}"
    ax.text((left + right) / 2, top - 0.35, title, ha="center", va="center", fontsize=11, fontweight="bold")
    for x, head in ((x_c, "bottom-up"), (x_l, "lateral"), (x_m, "top-down"), (x_o, "output")):
        ax.text(x, top - 0.9, head, ha="center", va="center", fontsize=9, style="italic")

    ax.text(x_c, bottom + 0.45, f"input, {height} x {width}", ha="center", va="center", fontsize=9)
    arrow(ax, (x_c, bottom + 0.7), (x_c, ys[0] - box_h / 2 - 0.05))
    for i, (f, k, y) in enumerate(zip(levels, indices, ys, strict=True)):
        box(ax, x_c, y, w_c, box_h, f"C{k}: {f.name}\n{f.channels} ch, {hw[i]}", COLORS["feature"])
        if i + 1 < n:
            arrow(ax, (x_c, y + box_h / 2 + 0.05), (x_c, ys[i + 1] - box_h / 2 - 0.05))
        box(ax, x_l, y, w_l, box_h, f"1x1 conv\n{f.channels} → {out_channels}", COLORS["conv"])
        arrow(ax, (x_c + w_c / 2 + 0.05, y), (x_l - w_l / 2 - 0.05, y))
        if i + 1 < n:  # every level but the coarsest adds the upsampled map from above
            add_node(ax, x_m, y, radius)
            arrow(ax, (x_m, ys[i + 1] - (0 if i + 2 == n else radius)), (x_m, y + radius))
            ax.text(x_m + 0.12, (y + ys[i + 1]) / 2, f"upsample to {hw[i]}\n(size of C{k})",
                    ha="left", va="center", fontsize=8)
            merge_right = x_m + radius
        else:
            junction(ax, x_m, y)
            merge_right = x_m
        arrow(ax, (x_l + w_l / 2 + 0.05, y), (x_m - (radius if i + 1 < n else 0), y))
        box(ax, x_o, y, w_o, box_h, f"3x3 conv\n{out_channels} → {out_channels}", COLORS["conv"])
        arrow(ax, (merge_right, y), (x_o - w_o / 2 - 0.05, y))
        box(ax, x_p, y, w_p, box_h, f"P{k}, stride {f.reduction}\n{out_channels} ch, {hw[i]}", COLORS["output"])
        arrow(ax, (x_o + w_o / 2 + 0.05, y), (x_p - w_p / 2 - 0.05, y))
    return fig
