"""Figures the chapters draw from the models, with matplotlib.

Every function returns the matplotlib Figure it drew, so a chapter can show it and a test can
inspect it; none of them calls ``plt.show()``.
"""

from __future__ import annotations

import math
import operator

import torch
import torch.fx
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch
from matplotlib.ticker import FuncFormatter
from torch import nn

from . import blocks
from .checks import check_choice
from .claims import CLAIMS
from .freeze import FreezeReport
from .pyramid import FeatureInfo
from .measure_claims import check_claim, find_claim
from .registry import MODELS


FLOW_STAGES: tuple[str, ...] = ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4")


def plot_stage_flow(
    model_names: list[str] | str, input_shape: tuple[int, int, int] = (3, 224, 224)
) -> Figure:
    """Height and channel count after the stem and each stage, one line per network.

    The numbers come from the claims record and each claim is measured first
    (``shapes.check_claim``), so the figure cannot show a shape the model does not produce.
    The first point is the input itself; both y axes are log2, so each halving is one step.
    The figure is not registered with pyplot: leave it as a cell's last value to show it.
    """


    names = [model_names] if isinstance(model_names, str) else list(model_names)
    if not names:
        raise ValueError("model_names is empty; give one network name, e.g. 'resnet34', or a list of them")
    networks = sorted({c.model for c in CLAIMS if set(FLOW_STAGES) <= {s.name for s in c.stages}})
    for name in names:  # validate every name before building any model
        check_choice(name, networks, "network for plot_stage_flow")
    claims = [find_claim(name, input_shape) for name in names]
    for claim in claims:
        check_claim(claim)

    labels = ["input", *FLOW_STAGES]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_h, ax_c = fig.subplots(1, 2)
    markers = "osD^v<>"
    for i, claim in enumerate(claims):
        shapes = [claim.input_shape] + [next(s.shape for s in claim.stages if s.name == n) for n in FLOW_STAGES]
        style = dict(marker=markers[i % len(markers)], linestyle=("-", "--", ":")[i % 3], label=claim.model)
        ax_h.plot(labels, [shape[1] for shape in shapes], **style)  # H of (C, H, W)
        ax_c.plot(labels, [shape[0] for shape in shapes], **style)  # C of (C, H, W)

    for ax, title in ((ax_h, "spatial size H"), (ax_c, "channels C")):
        values = sorted({int(v) for line in ax.lines for v in line.get_ydata()})
        ax.set_yscale("log", base=2)
        ax.set_yticks(values, [str(v) for v in values])
        ax.minorticks_off()
        ax.set_title(title)
        ax.set_xlabel("output of")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"Stage flow for one input of {' x '.join(map(str, input_shape))} (checked with torchinfo)")
    return fig


# --- draw_residual_block (Chapter 1) ----------------------------------------------------------


# The block each (kind, projection) pair draws: the chapter's claimed blocks where there is one,
# and for the identity Bottleneck the second block of ResNet50's layer1 (256 channels in and out).
_EXAMPLE_BLOCKS = {
    ("basic", False): MODELS["basic_block_identity"].build,
    ("basic", True): MODELS["basic_block_projection"].build,
    ("bottleneck", False): MODELS["bottleneck_identity"].build,
    ("bottleneck", True): MODELS["bottleneck_projection"].build,
}
_BOX_COLORS = {nn.Conv2d: "#cfe2f3", nn.BatchNorm2d: "#fff2cc", nn.ReLU: "#d9ead3"}


def _canvas(left: float, right: float, bottom: float, top: float, inch: float = 0.6):
    """A Figure whose single, axis-less Axes spans the drawing at ``inch`` inches per unit, so
    that boxes keep their proportions."""
    fig = Figure(figsize=(inch * (right - left), inch * (top - bottom)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.axis("off")
    return fig, ax


def _layer_label(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        (kh, kw), (sh, sw) = module.kernel_size, module.stride
        stride = f"stride {sh}" if sh == sw else f"stride {sh}x{sw}"
        return f"conv {kh}x{kw}, {stride}\n{module.in_channels} → {module.out_channels} channels"
    if isinstance(module, nn.BatchNorm2d):
        return f"BatchNorm ({module.num_features})"
    return type(module).__name__


def _paths(block: nn.Module) -> tuple[list[str], list[str], list[str]]:
    """The module names on the residual path, on the shortcut, and after the add, in call order.

    Read from the block's ``forward`` with torch.fx, so the drawing follows the code.
    """
    graph = torch.fx.symbolic_trace(block).graph
    adds = [n for n in graph.nodes if n.op == "call_function" and n.target in (operator.add, operator.iadd, torch.add)]
    if len(adds) != 1:
        raise ValueError(f"expected one residual add in {type(block).__name__}.forward, found {len(adds)}")
    (add,) = adds
    x = next(n for n in graph.nodes if n.op == "placeholder")
    output = next(n for n in graph.nodes if n.op == "output")

    def chain(node: torch.fx.Node, stop: torch.fx.Node) -> list[str]:
        names = []
        while node is not stop:
            if node.op != "call_module":
                raise ValueError(f"cannot draw {type(block).__name__}: {node.op} {node.target!r} between layers")
            names.append(node.target)
            node = node.args[0]
        return names[::-1]

    return chain(add.args[0], x), chain(add.args[1], x), chain(output.args[0], add)


def draw_residual_block(kind: str = "basic", projection: bool = False) -> Figure:
    """Draw a residual block of the package: its layers, its shortcut and the add.

    ``kind`` is "basic" (BasicBlock) or "bottleneck" (Bottleneck); ``projection=True`` draws a
    block that changes shape and so needs the 1x1 projection shortcut (``downsample``). Every
    label (kernel size, stride, channels) is read from a block built by the package, in the
    order its ``forward`` calls the layers. The figure is not registered with pyplot (nothing to
    close, nothing shown twice): in a notebook make it a cell's last value (after
    ``%matplotlib inline``), elsewhere call ``fig.savefig``.
    """
    check_choice(kind, ("basic", "bottleneck"), "block kind")
    if not isinstance(projection, bool):
        raise TypeError(f"projection must be True or False, got {projection!r}")
    block = _EXAMPLE_BLOCKS[kind, projection]()
    main, shortcut, after = _paths(block)
    modules = dict(block.named_modules())
    c_in = block.conv1.in_channels
    c_out = modules[main[-1]].num_features
    size = "H x W" if block.stride == 1 else f"H/{block.stride} x W/{block.stride}"

    step, box_h, main_w, side_w, side_x = 1.0, 0.62, 3.0, 2.7, 3.4
    split_y = -0.6  # the input at y = 0, then one row per layer, the add, the layers after it, the output
    output_y = split_y - (len(main) + len(after) + 2) * step
    left, right, top, bottom = -2.4, side_x + side_w / 2 + 0.2, 0.9, output_y - 0.4
    fig, ax = _canvas(left, right, bottom, top)

    def box(name: str, x: float, y: float, width: float) -> None:
        module = modules[name]
        color = next((c for t, c in _BOX_COLORS.items() if isinstance(module, t)), "#eeeeee")
        ax.add_patch(FancyBboxPatch((x - width / 2, y - box_h / 2), width, box_h, boxstyle="round,pad=0.04",
                                    facecolor=color, edgecolor="black", linewidth=1.0, zorder=3))
        ax.text(x, y, _layer_label(module), ha="center", va="center", fontsize=8.5, zorder=4)

    def arrow(start: tuple[float, float], end: tuple[float, float]) -> None:
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="black", lw=1.1))

    title = f"{type(block).__name__}, {'projection' if shortcut else 'identity'} shortcut"
    ax.text((left + right) / 2, 0.55, title, ha="center", va="center", fontsize=11, fontweight="bold")
    ax.text(0, 0, f"input x: {c_in} channels, H x W", ha="center", va="center", fontsize=9)
    arrow((0, -0.2), (0, split_y))
    ax.plot([0], [split_y], marker="o", color="black", markersize=4)

    # The residual path F(x), top to bottom.
    y = split_y
    for name in main:
        arrow((0, y if y == split_y else y - box_h / 2), (0, y - step + box_h / 2))
        y -= step
        box(name, 0, y, main_w)
    plus_y, radius = y - step, 0.26
    arrow((0, y - box_h / 2), (0, plus_y + radius))
    ax.add_patch(Circle((0, plus_y), radius, facecolor="white", edgecolor="black", linewidth=1.2, zorder=3))
    ax.text(0, plus_y, "+", ha="center", va="center", fontsize=14, zorder=4)

    # The shortcut, around the residual path and into the add.
    ax.plot([0, side_x, side_x], [split_y, split_y, plus_y], color="black", lw=1.1)
    arrow((side_x, plus_y), (radius, plus_y))
    if shortcut:
        first_y = (split_y + plus_y) / 2 + (len(shortcut) - 1) * step / 2  # centred between split and add
        for i, name in enumerate(shortcut):
            box(name, side_x, first_y - i * step, side_w)
    else:
        ax.text(side_x, (split_y + plus_y) / 2, "identity", ha="center", va="center", fontsize=9, rotation=90,
                bbox=dict(facecolor="white", edgecolor="none"))
    ax.text(side_x, split_y + 0.2, "shortcut", ha="center", va="bottom", fontsize=9, style="italic")
    ax.text(-main_w / 2 - 0.15, (split_y + plus_y) / 2, "F(x)", ha="right", va="center", fontsize=11, style="italic")

    # After the add, and the output.
    y = plus_y
    for name in after:
        arrow((0, y - radius if y == plus_y else y - box_h / 2), (0, y - step + box_h / 2))
        y -= step
        box(name, 0, y, main_w)
    arrow((0, y - box_h / 2), (0, output_y + 0.2))
    ax.text(0, output_y, f"output: {c_out} channels, {size}", ha="center", va="center", fontsize=9)
    return fig


# --- feature_grid (Chapter 3) -----------------------------------------------------------------


def feature_grid(features: torch.Tensor, n: int = 64, ncols: int = 8, title: str | None = None) -> Figure:
    """The first ``n`` channels of one feature map (1, C, H, W), one small image per channel.

    Each channel gets its own colour scale (channels differ widely in range), so the grid shows
    where each channel responds, not how strongly compared with the others. If the map has fewer
    than ``n`` channels, all of them are shown; there is one Axes per channel shown. As with the
    other figures, the Figure is not registered with pyplot: make it a cell's last value.
    """
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"feature_grid expects a torch.Tensor of shape (1, C, H, W), got {type(features).__name__}")
    if features.dim() != 4 or features.shape[0] != 1:
        hint = " (add a batch dimension: features.unsqueeze(0))" if features.dim() == 3 else ""
        hint = " (pick one sample: features[:1])" if features.dim() == 4 else hint
        raise ValueError(
            f"feature_grid expects one feature map of shape (1, C, H, W), got shape {tuple(features.shape)}{hint}"
        )
    for arg, value in (("n", n), ("ncols", ncols)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")

    maps = features[0].detach().to("cpu", torch.float32)  # (C, H, W)
    channels, height, width = maps.shape
    shown = min(n, channels)
    cols = min(ncols, shown)
    rows = -(-shown // cols)  # ceil
    fig = Figure(figsize=(1.3 * cols, 1.3 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i >= shown:
            ax.remove()  # an empty cell of the last row
            continue
        ax.imshow(maps[i].numpy(), cmap="viridis", interpolation="nearest")
        ax.set_title(str(i), fontsize=7, pad=2)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title if title is not None else f"channels 0-{shown - 1} of {channels}, each {height} x {width}")
    return fig


# --- plot_trainable (Chapter 5) ---------------------------------------------------------------


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
    ax.barh(rows, trainable, color="#6aa84f", label="trainable")
    ax.barh(rows, frozen, left=trainable, color="#b7b7b7", label="frozen")
    for row, report in zip(rows, reports.values()):
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


# --- draw_fpn (Chapter 4) ---------------------------------------------------------------------


_FPN_COLORS = {"feature": "#fce5cd", "conv": "#cfe2f3", "output": "#d9ead3"}


def _check_fpn_levels(feature_info: list, out_channels: int, size: tuple[int, int]) -> list[int]:
    """Validate draw_fpn's arguments; return each level's pyramid index (log2 of its reduction)."""
    if not isinstance(feature_info, (list, tuple)) or not feature_info:
        raise ValueError(
            "feature_info must be a non-empty list of FeatureInfo, fine to coarse, e.g. "
            f"resnet_features(50).feature_info[1:]; got {feature_info!r}"
        )
    for f in feature_info:
        if not isinstance(f, FeatureInfo):
            raise TypeError(f"feature_info must hold FeatureInfo(name, channels, reduction), got {f!r}")
        if f.channels <= 0 or f.reduction < 2 or f.reduction & (f.reduction - 1):
            raise ValueError(f"each level needs channels > 0 and a reduction that is a power of 2 (>= 2), got {f}")
    reductions = [f.reduction for f in feature_info]
    if any(a >= b for a, b in zip(reductions, reductions[1:])):
        raise ValueError(f"feature_info must be ordered fine to coarse (increasing reduction); got reductions {reductions}")
    if isinstance(out_channels, bool) or not isinstance(out_channels, int) or out_channels <= 0:
        raise ValueError(f"out_channels must be a positive int, got {out_channels!r}")
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size)):
        raise ValueError(f"size must be the input's (H, W) as two positive ints, e.g. (224, 224); got {size!r}")
    return [r.bit_length() - 1 for r in reductions]  # 4 -> 2 (C2), 32 -> 5 (C5)


def draw_fpn(feature_info: list, out_channels: int = 256, size: tuple[int, int] = (224, 224)) -> Figure:
    """Draw a Feature Pyramid Network on the given bottom-up levels, with their real sizes.

    ``feature_info`` lists the levels the FPN reads, fine to coarse (for a ResNet, ``C2..C5`` =
    ``feature_info[1:]``, without the stem); level ``Ck`` has reduction ``2**k``. For an input of
    ``size`` = (H, W) a level's side is ``ceil(H / reduction)``: each stride-2 layer of a ResNet
    rounds up (Chapter 2). The drawing shows the bottom-up levels, the 1x1 laterals, the
    top-down path (each arrow upsamples to the exact size of the level below), the adds, and
    the 3x3 outputs ``P2..P5`` with ``out_channels`` each. Like the other figures here it is not
    registered with pyplot: make it a cell's last value, or call ``fig.savefig``.
    """
    indices = _check_fpn_levels(feature_info, out_channels, size)
    sides = [(math.ceil(size[0] / f.reduction), math.ceil(size[1] / f.reduction)) for f in feature_info]
    hw = [f"{h} x {w}" for h, w in sides]
    n = len(feature_info)

    step, box_h, radius = 1.7, 0.82, 0.24
    x_c, x_l, x_m, x_o, x_p = 0.0, 3.5, 5.9, 8.4, 11.1  # bottom-up, lateral, add, output conv, P level
    w_c, w_l, w_o, w_p = 2.7, 1.9, 1.9, 2.3
    ys = [i * step for i in range(n)]  # the finest level at the bottom, as in the paper's figure
    left, right, bottom, top = x_c - w_c / 2 - 0.3, x_p + w_p / 2 + 0.3, -1.6, ys[-1] + 1.6
    fig, ax = _canvas(left, right, bottom, top)

    def box(x: float, y: float, width: float, text: str, kind: str) -> None:
        ax.add_patch(FancyBboxPatch((x - width / 2, y - box_h / 2), width, box_h, boxstyle="round,pad=0.04",
                                    facecolor=_FPN_COLORS[kind], edgecolor="black", linewidth=1.0, zorder=3))
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5, zorder=4)

    def arrow(start: tuple[float, float], end: tuple[float, float]) -> None:
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color="black", lw=1.1))

    title = f"FPN on C{indices[0]}..C{indices[-1]} for an input of {size[0]} x {size[1]}"
    ax.text((left + right) / 2, top - 0.35, title, ha="center", va="center", fontsize=11, fontweight="bold")
    for x, head in ((x_c, "bottom-up"), (x_l, "lateral"), (x_m, "top-down"), (x_o, "output")):
        ax.text(x, top - 0.9, head, ha="center", va="center", fontsize=9, style="italic")

    ax.text(x_c, bottom + 0.45, f"input, {size[0]} x {size[1]}", ha="center", va="center", fontsize=9)
    arrow((x_c, bottom + 0.7), (x_c, ys[0] - box_h / 2 - 0.05))
    for i, (f, k, y) in enumerate(zip(feature_info, indices, ys)):
        box(x_c, y, w_c, f"C{k}: {f.name}\n{f.channels} ch, {hw[i]}", "feature")
        if i + 1 < n:
            arrow((x_c, y + box_h / 2 + 0.05), (x_c, ys[i + 1] - box_h / 2 - 0.05))
        box(x_l, y, w_l, f"1x1 conv\n{f.channels} → {out_channels}", "conv")
        arrow((x_c + w_c / 2 + 0.05, y), (x_l - w_l / 2 - 0.05, y))
        if i + 1 < n:  # every level but the coarsest adds the upsampled map from above
            ax.add_patch(Circle((x_m, y), radius, facecolor="white", edgecolor="black", linewidth=1.2, zorder=3))
            ax.text(x_m, y, "+", ha="center", va="center", fontsize=14, zorder=4)
            start = (x_m, ys[i + 1] - (0 if i + 2 == n else radius))
            arrow(start, (x_m, y + radius))
            ax.text(x_m + 0.12, (y + ys[i + 1]) / 2, f"upsample to {hw[i]}\n(size of C{k})",
                    ha="left", va="center", fontsize=8)
            merge_right = x_m + radius
        else:
            ax.plot([x_m], [y], marker="o", color="black", markersize=4)
            merge_right = x_m
        arrow((x_l + w_l / 2 + 0.05, y), (x_m - (radius if i + 1 < n else 0), y))
        box(x_o, y, w_o, f"3x3 conv\n{out_channels} → {out_channels}", "conv")
        arrow((merge_right, y), (x_o - w_o / 2 - 0.05, y))
        box(x_p, y, w_p, f"P{k}, stride {f.reduction}\n{out_channels} ch, {hw[i]}", "output")
        arrow((x_o + w_o / 2 + 0.05, y), (x_p - w_p / 2 - 0.05, y))
    return fig


def plot_bench(runs: list) -> Figure:
    """Median time of each extraction method relative to the bare forward, one panel per
    workload, with the interquartile range of the per-round ratios as error bars."""
    if not runs:
        raise ValueError("plot_bench needs at least one run (bench.load(path))")
    workloads = list(runs[0].workloads)
    fig = Figure(figsize=(4.2 * len(workloads), 0.45 * len(runs[0].workloads[workloads[0]]) * len(runs) + 1.6))
    axes = fig.subplots(1, len(workloads), sharey=True, squeeze=False)[0]
    for ax, workload in zip(axes, workloads):
        for k, run in enumerate(runs):
            rows = run.workloads[workload]
            y = [i + 0.8 * k / len(runs) for i in range(len(rows))]
            medians = [r.ratio_median for r in rows]
            err = [[r.ratio_median - r.ratio_iqr[0] for r in rows], [r.ratio_iqr[1] - r.ratio_median for r in rows]]
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
