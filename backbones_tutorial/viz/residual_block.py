"""Chapter 1: a residual block of the package, drawn from the block itself."""

from __future__ import annotations

import operator

import torch
import torch.fx
from matplotlib.figure import Figure
from torch import nn

from backbones_tutorial.checks import check_choice
from backbones_tutorial.registry import MODELS
from backbones_tutorial.viz._drawing import COLORS, add_node, arrow, box, canvas, junction

__all__ = ["draw_residual_block"]

# The block each (kind, projection) pair draws, from the one registry: the chapter's claimed
# blocks, and for the identity Bottleneck the second block of ResNet50's layer1 (256 in and out).
_EXAMPLE_BLOCKS = {
    ("basic", False): "basic_block_identity",
    ("basic", True): "basic_block_projection",
    ("bottleneck", False): "bottleneck_identity",
    ("bottleneck", True): "bottleneck_projection",
}
_LAYER_COLORS = {nn.Conv2d: COLORS["conv"], nn.BatchNorm2d: COLORS["norm"], nn.ReLU: COLORS["activation"]}


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
        names: list[str] = []
        while node is not stop:
            if node.op != "call_module":
                raise ValueError(f"cannot draw {type(block).__name__}: {node.op} {node.target!r} between layers")
            names.append(str(node.target))
            node = node.args[0]  # type: ignore[assignment]  # each layer's input is its first argument
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
    block = MODELS[_EXAMPLE_BLOCKS[kind, projection]].build()
    main, shortcut, after = _paths(block)
    modules = dict(block.named_modules())
    c_in = modules["conv1"].in_channels
    c_out = modules[main[-1]].num_features
    size = "H x W" if block.stride == 1 else f"H/{block.stride} x W/{block.stride}"

    step, box_h, main_w, side_w, side_x = 1.0, 0.62, 3.0, 2.7, 3.4
    split_y = -0.6  # the input at y = 0, then one row per layer, the add, the layers after it, the output
    output_y = split_y - (len(main) + len(after) + 2) * step
    left, right, top, bottom = -2.4, side_x + side_w / 2 + 0.2, 0.9, output_y - 0.4
    fig, ax = canvas(left, right, bottom, top)

    def layer(name: str, x: float, y: float, width: float) -> None:
        module = modules[name]
        color = next((c for t, c in _LAYER_COLORS.items() if isinstance(module, t)), COLORS["other"])
        box(ax, x, y, width, box_h, _layer_label(module), color)

    title = f"{type(block).__name__}, {'projection' if shortcut else 'identity'} shortcut"
    ax.text((left + right) / 2, 0.55, title, ha="center", va="center", fontsize=11, fontweight="bold")
    ax.text(0, 0, f"input x: {c_in} channels, H x W", ha="center", va="center", fontsize=9)
    arrow(ax, (0, -0.2), (0, split_y))
    junction(ax, 0, split_y)

    # The residual path F(x), top to bottom.
    y = split_y
    for name in main:
        arrow(ax, (0, y if y == split_y else y - box_h / 2), (0, y - step + box_h / 2))
        y -= step
        layer(name, 0, y, main_w)
    plus_y, radius = y - step, 0.26
    arrow(ax, (0, y - box_h / 2), (0, plus_y + radius))
    add_node(ax, 0, plus_y, radius)

    # The shortcut, around the residual path and into the add.
    ax.plot([0, side_x, side_x], [split_y, split_y, plus_y], color="black", lw=1.1)
    arrow(ax, (side_x, plus_y), (radius, plus_y))
    if shortcut:
        first_y = (split_y + plus_y) / 2 + (len(shortcut) - 1) * step / 2  # centred between split and add
        for i, name in enumerate(shortcut):
            layer(name, side_x, first_y - i * step, side_w)
    else:
        ax.text(side_x, (split_y + plus_y) / 2, "identity", ha="center", va="center", fontsize=9, rotation=90,
                bbox=dict(facecolor="white", edgecolor="none"))
    ax.text(side_x, split_y + 0.2, "shortcut", ha="center", va="bottom", fontsize=9, style="italic")
    ax.text(-main_w / 2 - 0.15, (split_y + plus_y) / 2, "F(x)", ha="right", va="center", fontsize=11, style="italic")

    # After the add, and the output.
    y = plus_y
    for name in after:
        arrow(ax, (0, y - radius if y == plus_y else y - box_h / 2), (0, y - step + box_h / 2))
        y -= step
        layer(name, 0, y, main_w)
    arrow(ax, (0, y - box_h / 2), (0, output_y + 0.2))
    ax.text(0, output_y, f"output: {c_out} channels, {size}", ha="center", va="center", fontsize=9)
    return fig
