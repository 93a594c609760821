"""The input-size contract of a pyramid: what each level's size is for any input, which sizes make
every level exact, which are refused, and ``pad_to_multiple`` to reach an exact size.

Every number here is arithmetic on ``feature_info`` (read once from the modules on the meta device,
see ``pyramids.probe.find_levels``); nothing is run at the size asked about. A level's side follows
from the previous level's by its rounding (``level_size``), level by level: Swin floors at its
patchify stem (H/4) and rounds up at each patch merging, so its sides are chained, not H/r at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from backbones_tutorial.checks import is_int, size_hint
from backbones_tutorial.display import Table, fmt_shape
from backbones_tutorial.pyramids.levels import Levels, level_size
from backbones_tutorial.registry import PYRAMIDS

__all__ = ["Contract", "Padding", "contract", "contract_report", "level_sizes", "pad_to_multiple",
           "pyramid_on_meta"]


def level_sizes(levels: Levels, height: int, width: int) -> list[tuple[int, int]]:
    """(H, W) of every level for an input of ``height`` x ``width``: ``Levels.sizes``, the one rule."""
    return levels.sizes(height, width)


@dataclass(frozen=True)
class Contract:
    """What a pyramid gives for an input of ``size``; ``refused`` says why it cannot, if it cannot."""

    arch: str
    size: tuple[int, int]
    levels: Levels
    shapes: tuple[tuple[int, int, int], ...]  # (C, H, W) per level; empty when refused
    divisor: int  # the largest reduction: a multiple of it makes every level exact
    padded: tuple[int, int]  # the nearest size at or above ``size`` where every level is exact
    minimum: int  # the smallest side the pyramid takes: every level survives it (a fixed-size ViT: its side)
    fixed: tuple[int, int] | None  # the only size a fixed-size model (ViT) takes
    refused: str | None

    @property
    def exact(self) -> bool:
        """Whether every level is exactly H/r x W/r at this size."""
        return all(s % self.divisor == 0 for s in self.size)


@functools.cache
def pyramid_on_meta(arch: str) -> nn.Module:
    """``backbone(arch)`` on the meta device, built once per name: its structure, no values (read only)."""
    from backbones_tutorial.pyramids.backbone import backbone, build_on_meta

    if arch not in PYRAMIDS:
        raise ValueError(f"unknown backbone {arch!r}; valid choices: {', '.join(PYRAMIDS)}")
    return backbone(build_on_meta(arch))


def _levels_of(arch: str) -> tuple[Levels, tuple[int, int] | None]:
    pyramid = pyramid_on_meta(arch)
    levels, fixed = pyramid.feature_info, pyramid.fixed_size
    assert isinstance(levels, Levels)
    return levels, fixed  # type: ignore[return-value]


def contract(arch: str, size: tuple[int, int]) -> Contract:
    """The input-size contract of ``backbone(arch)`` at ``size`` = (H, W)."""
    if arch not in PYRAMIDS:
        raise ValueError(f"unknown backbone {arch!r}; valid choices: {', '.join(PYRAMIDS)}")
    if (not isinstance(size, (tuple, list, torch.Size)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ValueError(f"size must be two positive ints (H, W), got {size!r}{size_hint(size)}")
    h, w = size
    levels, fixed = _levels_of(arch)
    divisor = max(levels.reductions)
    padded = (-(-h // divisor) * divisor, -(-w // divisor) * divisor)
    # A fixed-size model takes no side but its own: the levels' arithmetic alone would allow 32 for ViT.
    minimum = min(fixed) if fixed is not None else levels.minimum_side()
    refused = None
    if fixed is not None and tuple(size) != fixed:
        refused = (f"{arch} takes only {fixed[0]}x{fixed[1]} inputs (its image_size, fixed by its position "
                   f"embedding); got {h}x{w}: resize or pad to {fixed[0]}x{fixed[1]}")
        padded = fixed
    elif min(h, w) < minimum:
        refused = f"input {h}x{w} is too small for {arch}: its coarsest level would be empty; the minimum is " \
                  f"{minimum}x{minimum}"
    shapes = () if refused else tuple((f.channels, *hw) for f, hw in zip(levels, level_sizes(levels, h, w),
                                                                             strict=True))
    return Contract(arch, (h, w), levels, shapes, divisor, padded, minimum, fixed, refused)


@dataclass(frozen=True)
class Padding:
    """How a batch was padded (zeros at the bottom and right), and how to crop a level back."""

    size: tuple[int, int]  # the input's (H, W) before padding
    padded: tuple[int, int]  # (H, W) after

    def crop(self, feature: torch.Tensor, reduction: int) -> torch.Tensor:
        """The part of a level of ``reduction`` whose cells sit on the original image: its first
        ceil(H / r) rows and ceil(W / r) columns. Each cell after them has an r x r patch of padding
        alone (its receptive field can still reach into the image: padding changes the border)."""
        if not is_int(reduction):
            raise ValueError(f"reduction must be a positive int (e.g. 32 for H/32), got {reduction!r}")
        h, w = (level_size(s, reduction, "ceil") for s in self.size)
        if feature.dim() < 2 or feature.shape[-2] < h or feature.shape[-1] < w:
            raise ValueError(f"a level of reduction {reduction} of a padded {self.padded[0]}x{self.padded[1]} "
                             f"batch has at least {h}x{w} cells; got shape {list(feature.shape)}")
        return feature[..., :h, :w]  # (B, C, ceil(H/r), ceil(W/r))


def pad_to_multiple(x: torch.Tensor, multiple: int, value: float = 0.0) -> tuple[torch.Tensor, Padding]:
    """Pad a (B, C, H, W) batch at the bottom and right to the next multiple of ``multiple`` (a
    pyramid's divisor, its largest reduction): every level is then exactly H/r x W/r."""
    if not is_int(multiple):
        raise ValueError(f"multiple must be a positive int (the largest reduction, e.g. 32), got {multiple!r}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"pad_to_multiple expects a (B, C, H, W) torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or 0 in x.shape[-2:]:
        raise ValueError(f"pad_to_multiple expects a (B, C, H, W) batch with H, W >= 1, got shape {list(x.shape)}")
    if x.shape[-1] in (1, 3, 4) and x.shape[1] > 4:  # an image with its channels last: W and C would be padded
        raise ValueError(f"pad_to_multiple expects (B, C, H, W), got shape {list(x.shape)}, which looks like a "
                         f"channels-last (B, H, W, C) image: pass x.permute(0, 3, 1, 2)")
    h, w = x.shape[-2:]
    ph, pw = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    padded = F.pad(x, (0, pw - w, 0, ph - h), value=value)  # (B, C, ph, pw)
    return padded, Padding((h, w), (ph, pw))


def contract_report(arch: str, size: tuple[int, int], levels: bool) -> str:
    """The input-size contract of ``backbone(arch)`` at ``size``: the levels (if ``levels``), the
    divisor and the padded size. A refused size raises ValueError with the reason."""
    c = contract(arch, size)
    if c.refused:
        raise ValueError(c.refused)
    out = []
    if levels:
        rows = tuple((f.name, fmt_shape(s), f"/{f.reduction}", f.rounding) for f, s in zip(c.levels, c.shapes,
                                                                                            strict=True))
        caption = f"{arch} pyramid, input 3 x {size[0]} x {size[1]} (from the level sizes rule; nothing run)"
        out.append(repr(Table(("level", "output (C x H x W)", "stride", "rounding"), rows, caption)))
    out.append(f"divisor: {c.divisor} (the largest stride); every level is exactly H/stride x W/stride "
               f"when H and W are multiples of {c.divisor}")
    if c.fixed:
        out.append(f"fixed size: {arch} takes only {c.fixed[0]} x {c.fixed[1]}")
    elif c.exact:
        out.append(f"{size[0]} x {size[1]} is exact at every level")
    else:
        out.append(f"{size[0]} x {size[1]} is not: the nearest padded size is {c.padded[0]} x {c.padded[1]} "
                   f"(pad_to_multiple(x, {c.divisor}))")
    out.append(f"minimum side: {c.minimum}")
    return "\n".join(out)
