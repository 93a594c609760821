"""Reading a pyramid's levels from its tensors: run the model's steps on zeros at a few sizes
(on the meta device for a model built there: no memory, no arithmetic) and record, for each
level, its channels, its reduction and how its side rounds. ``backbone()`` and the ViT pyramid
both declare their levels this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from backbones_tutorial.pyramids.levels import FeatureInfo, Levels

__all__ = ["PROBE", "PROBES", "Step", "find_levels", "meta_call", "shape_call"]


@dataclass(frozen=True)
class Step:
    """Modules the model's forward calls one after the other (dotted paths into the model)."""

    name: str
    paths: tuple[str, ...]
    layout: str = "NCHW"  # "NHWC" for Swin's channels-last stages


def meta_call(module: nn.Module, x: torch.Tensor) -> object:
    """``module(x)`` on the meta device, whatever device the module's tensors are on: shapes only.
    The module runs in eval mode (BatchNorm's batch statistics need values); every submodule's mode is
    restored."""
    tensors = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    meta = {k: torch.empty_like(v, device="meta") for k, v in tensors.items()}
    modes = [(m, m.training) for m in module.modules()]
    try:
        with torch.no_grad():
            return functional_call(module.eval(), meta, (x.to("meta"),), strict=False)
    finally:
        for m, training in modes:  # each module's own mode, as the caller left it
            m.training = training


def shape_call(module: nn.Module, x_shape: tuple[int, ...]) -> object:
    """The output of ``module`` on zeros of ``x_shape``, for its shapes only: on the meta device
    when the module is there, else on the module's own device in eval mode without gradients
    (a small CPU model runs faster than the meta device's Python kernels). Modes are restored."""
    p = next(module.parameters())
    if p.is_meta:
        return meta_call(module, torch.empty(x_shape, device="meta"))
    modes = [(m, m.training) for m in module.modules()]
    try:
        with torch.no_grad():
            return module.eval()(torch.zeros(x_shape, device=p.device, dtype=p.dtype))
    finally:
        for m, training in modes:
            m.training = training


class _AllSteps(nn.Module):
    """Runs every step and returns every step's output as NCHW: what the level search probes."""

    def __init__(self, body: nn.Module, steps: list[Step]) -> None:
        super().__init__()
        self.body, self.steps = body, steps

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for step in self.steps:
            for path in step.paths:
                x = self.body.get_submodule(path)(x)
            outs.append(x.permute(0, 3, 1, 2) if step.layout == "NHWC" else x)
        return outs


PROBE = 256  # a multiple of every reduction up to 256, so each level's reduction is exact
# (H, W) of the probes: 256 for the reductions, and sides that leave odd sizes at every step of
# a ceil chain (225), of a floor chain (255) and of Swin's floor-then-ceil (133); more if needed.
PROBES = ((PROBE, 255), (225, 133), (135, 231), (243, 249), (197, 201), (169, 171))


def find_levels(body: nn.Module, steps: list[Step], in_channels: int,
                ends: list[int] | None = None) -> tuple[list[int], Levels]:
    """The index of the step closing each level, and the levels (read from the tensors of probes).

    A level is the last step at each resolution, unless ``ends`` names the steps: a dilated model
    keeps one resolution over several stages, so its levels are the ends found on it undilated."""
    probe = _AllSteps(body, steps)

    def sides(h: int, w: int) -> list[tuple[int, int, int]]:
        outs = shape_call(probe, (1, in_channels, h, w))
        assert isinstance(outs, list)
        return [(o.shape[1], o.shape[2], o.shape[3]) for o in outs]  # (C, H, W) of each step

    first = sides(*PROBES[0])
    if ends is None:
        ends = [i for i, (_c, h, _w) in enumerate(first)
                if h < PROBE and (i + 1 == len(first) or first[i + 1][1] != h)]
    reductions = [PROBE // first[i][1] for i in ends]
    factors = [r // p for r, p in zip(reductions, [1, *reductions[:-1]], strict=True)]
    roundings: list[str | None] = [None if f > 1 else "ceil" for f in factors]  # a dilated level: either
    for j, (h, w) in enumerate(PROBES):  # each level's step from the previous one: ceil or floor?
        measured = first if j == 0 else sides(h, w)
        for dim, n in ((1, h), (2, w)):
            chain = [n, *(measured[i][dim] for i in ends)]
            for k, f in enumerate(factors):
                prev, got = chain[k], chain[k + 1]
                want = {"ceil": -(-prev // f), "floor": prev // f}
                if got not in want.values():
                    raise NotImplementedError(f"level {steps[ends[k]].name}: side {prev} gives {got}, not ceil "
                                              f"or floor of {prev}/{f}; the size rule does not cover this model")
                if prev % f:
                    found = "ceil" if got == want["ceil"] else "floor"
                    if roundings[k] not in (None, found):
                        raise NotImplementedError(f"level {steps[ends[k]].name} rounds both ways")
                    roundings[k] = found
        if None not in roundings:
            break
    levels = Levels(FeatureInfo(steps[i].name, first[i][0], r, rounding or "ceil")
                    for i, r, rounding in zip(ends, reductions, roundings, strict=True))
    return ends, levels
