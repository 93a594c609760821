"""What a feature pyramid returns, declared once and checked on construction.

A backbone that returns several maps carries ``feature_info``: one ``FeatureInfo`` per map, in
the order they are returned (fine to coarse), held in a ``Levels`` tuple. The code that builds a
stage declares its level; the FPN, the extractors, the figures and the tests read it.

How big a level is for a given input is stated here once, in ``level_size``:

- ``"ceil"``: ResNet's stride-2 layers are padded (7x7/2 with padding 3, 3x3/2 with padding 1,
  1x1/2), and each one maps a side ``n`` to ``ceil(n / 2)``; after them a level of reduction
  ``r`` has side ``ceil(n / r)``. A 225-pixel side gives 57 at ``r = 4``, 8 at ``r = 32``.
- ``"floor"``: VGG's 2x2/2 max-pools have no padding and map ``n`` to ``floor(n / 2)``: side
  ``floor(n / r)``, so a 225-pixel side gives 7 at ``r = 32``.

Both agree with ``n / r`` exactly when ``n`` is a multiple of ``r``, which is why a claim true at
224 can fail at 225.

A level's ``rounding`` says how its side follows from the previous level's (the input's for the
first), and ``Levels.sizes`` chains them: the one rule, for every pyramid, and the only place a
level's size is computed. Where every step rounds the same way (ResNet, VGG) the chain equals one
rounding from the input; Swin floors at its patchify stem and rounds up at each patch merging, so
only the chain is exact (a 225-pixel side gives 56 at ``r = 4``, then 28, 14 and 7, where one ceil
from the input would give 29, 15 and 8). A slice or a selection of a pyramid's levels keeps the
whole chain it came from, so its sizes are the pyramid's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import SupportsIndex, overload

from backbones_tutorial.checks import is_int

__all__ = ["FeatureInfo", "Levels", "ROUNDINGS", "level_size"]

ROUNDINGS = ("ceil", "floor")


def level_size(size: int, reduction: int, rounding: str) -> int:
    """The side of a level of ``reduction`` for an input side of ``size`` (see the module docstring)."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}; valid choices: {', '.join(map(repr, ROUNDINGS))}")
    for name, value in (("size", size), ("reduction", reduction)):
        if not is_int(value):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return -(-size // reduction) if rounding == "ceil" else size // reduction


@dataclass(frozen=True)
class FeatureInfo:
    """One level of a pyramid: its name, channel count and reduction (stride), e.g. 32 for H/32.

    ``dilation`` is the stride the level gave up to dilated convolutions (``backbone(...,
    output_stride=8)``): its reduction without dilation would be ``reduction * dilation``. A dilated
    level has its predecessor's reduction, hence its size."""

    name: str
    channels: int
    reduction: int
    rounding: str = "ceil"  # how the level's side follows from the previous level's: see Levels.sizes
    dilation: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"FeatureInfo needs a non-empty name, got {self.name!r}")
        for field in ("channels", "reduction", "dilation"):
            value = getattr(self, field)
            if not is_int(value):
                raise ValueError(f"FeatureInfo {self.name!r}: {field} must be a positive int, got {value!r}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(
                f"FeatureInfo {self.name!r}: unknown rounding {self.rounding!r}; valid choices: "
                f"{', '.join(map(repr, ROUNDINGS))}"
            )


class Levels(tuple[FeatureInfo, ...]):
    """The ``feature_info`` of a pyramid: its levels fine to coarse, with distinct names and
    reductions that never decrease (they grow at every stride; a dilated stage, as in DeepLab,
    keeps its predecessor's). A slice (``feature_info[1:]``) or a selection is again a ``Levels``,
    which keeps ``chain``, the whole pyramid it came from, so that its sizes are the pyramid's own."""

    def __new__(cls, levels: Iterable[FeatureInfo] = (), chain: Levels | None = None) -> Levels:
        if chain is None and isinstance(levels, Levels):
            chain = levels.chain  # a copy of a slice is still a slice of its pyramid
        levels = tuple(levels)
        for f in levels:
            if not isinstance(f, FeatureInfo):
                raise TypeError(f"Levels holds FeatureInfo(name, channels, reduction), got {f!r}")
        names = [f.name for f in levels]
        if len(set(names)) != len(names):
            raise ValueError(f"level names must be distinct, got {names}")
        reductions = [f.reduction for f in levels]
        if any(a > b for a, b in pairwise(reductions)):
            raise ValueError(
                f"levels must be ordered fine to coarse (reductions never decreasing); got reductions "
                f"{reductions} for {names}"
            )
        if chain is not None:
            if not isinstance(chain, Levels):
                raise TypeError(f"chain must be the Levels these levels come from, got {type(chain).__name__}")
            missing = [f.name for f in levels if f not in chain]
            if missing:
                raise ValueError(f"levels {missing} are not levels of the chain {chain.names}")
        new = super().__new__(cls, levels)
        new.__dict__["chain"] = chain.chain if chain is not None else new  # always the whole pyramid
        return new

    chain: Levels  # the whole pyramid these levels belong to (themselves, unless sliced or selected)

    @overload
    def __getitem__(self, index: SupportsIndex) -> FeatureInfo: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[FeatureInfo, ...]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> FeatureInfo | tuple[FeatureInfo, ...]:
        if isinstance(index, slice) and (index.step or 1) > 0:  # a forward slice is still a pyramid
            return Levels(super().__getitem__(index), chain=self)
        return super().__getitem__(index)  # a reversed one is a plain tuple

    def __repr__(self) -> str:
        return "Levels(" + ", ".join(f"{f.name}: {f.channels} ch, /{f.reduction}"
                                     + (f" (dilation {f.dilation})" if f.dilation > 1 else "") for f in self) + ")"

    @property
    def names(self) -> list[str]:
        return [f.name for f in self]

    @property
    def channels(self) -> list[int]:
        return [f.channels for f in self]

    @property
    def reductions(self) -> list[int]:
        return [f.reduction for f in self]

    @property
    def dilations(self) -> list[int]:
        return [f.dilation for f in self]

    def select(self, names: Iterable[str]) -> Levels:
        """The levels called ``names``, in pyramid order; an unknown name is an error."""
        if isinstance(names, str):
            raise TypeError(f"select takes a list of level names, e.g. [{names!r}], got the string {names!r}")
        names = list(names)
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise ValueError(f"unknown level {unknown[0]!r}; valid choices: {', '.join(map(repr, self.names))}")
        return Levels((f for f in self if f.name in names), chain=self)

    def renamed(self, names: Sequence[str], channels: int) -> Levels:
        """These levels under new ``names``, each with ``channels``: what a head that keeps every
        level's size returns (an FPN). Reduction, rounding and dilation stay, and so does the
        chain, with these levels renamed in it, so that a head on a slice has the slice's sizes."""
        names = list(names) if isinstance(names, (list, tuple)) else names
        if not isinstance(names, list) or len(names) != len(self):
            raise ValueError(f"renamed needs one new name per level ({len(self)}: {self.names}), got {names!r}")
        new = {f.name: replace(f, name=n, channels=channels) for f, n in zip(self, names, strict=True)}
        chain = Levels(new.get(f.name, f) for f in self.chain)  # the other levels only chain the sizes
        return Levels((new[f.name] for f in self), chain=chain)

    def sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """(H, W) of every level for an input of ``height`` x ``width``, chained level by level along
        the whole pyramid (``chain``): each level's side is the previous level's (the input's for the
        first) divided by the step between their reductions, rounded as the level declares."""
        for name, value in (("height", height), ("width", width)):
            if not is_int(value):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        chained, (h, w), previous = {}, (height, width), 1
        for f in self.chain:
            if f.reduction % previous:
                raise ValueError(f"level {f.name!r}: reduction {f.reduction} is not a multiple of the previous "
                                 f"level's {previous}, so its side cannot be chained from it")
            step = f.reduction // previous
            h, w = level_size(h, step, f.rounding), level_size(w, step, f.rounding)  # (H/r, W/r), rounded
            chained[f.name] = (h, w)
            previous = f.reduction
        return [chained[f.name] for f in self]

    def minimum_side(self, limit: int = 4096) -> int:
        """The smallest input side at which every level of the pyramid (``chain``) keeps a row."""
        for n in range(1, limit + 1):
            try:
                if min(min(hw) for hw in self.chain.sizes(n, n)) >= 1:
                    return n
            except ValueError:  # an earlier level was already empty
                continue
        raise ValueError(f"no side up to {limit} keeps every level of {self.chain.names} non-empty")

    def shapes(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """(C, H, W) of every level for an input of ``height`` x ``width`` (chained, see ``sizes``)."""
        return [(f.channels, h, w) for f, (h, w) in zip(self, self.sizes(height, width), strict=True)]

    def check(self, outputs: Sequence[object], height: int, width: int) -> None:
        """Raise ValueError unless ``outputs`` (tensors, one per level) have exactly the declared
        (C, H, W) for an input of ``height`` x ``width``: the promise of ``feature_info``, checked."""
        if len(outputs) != len(self):
            raise ValueError(f"{len(outputs)} maps for the {len(self)} declared levels {self.names}")
        declared = self.shapes(height, width)
        for f, want, out in zip(self, declared, outputs, strict=True):
            got = tuple(getattr(out, "shape", ())[1:])
            if got != want:
                raise ValueError(f"level {f.name!r} (/{f.reduction}, {f.rounding}) at {height} x {width}: declared "
                                 f"(C, H, W) = {want}, the map has {got}")
