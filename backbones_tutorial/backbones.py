"""Feature pyramids from torchvision's classification models: ``backbone(model_or_name)``.

Each family states only the order in which its forward calls its modules (its *steps*, up to the
map its classifier head pools). Everything else is read from the modules: the model's steps are
run on zeros at a few sizes (on the meta device for a model built there: no memory, no
arithmetic), a level is the last step at each resolution below the input's, its channels and
reduction are what the tensors say, and
its rounding (``ceil`` for padded stride-2 convs, ``floor`` for unpadded patchify convs and pools)
is what the odd sizes show. The pyramid shares the model's modules (``body`` *is* the model), so
the model's weights, frozen or not, are the ones used; the head stays in ``body`` so that a
torchvision state dict loads into ``pyramid.body`` strictly. ViT has no stages: see
``simple_pyramid.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from unittest import mock

import torch
import torchvision
from torch import nn
from torch.func import functional_call
from torchvision import models as tvm

from .checks import check_batch
from .features import FeatureInfo, Levels
from .predictable import PYRAMIDS
from .resnet import ResNet as PackageResNet


@dataclass(frozen=True)
class Step:
    """Modules the model's forward calls one after the other (dotted paths into the model)."""

    name: str
    paths: tuple[str, ...]
    layout: str = "NCHW"  # "NHWC" for Swin's channels-last stages


def _children(model: nn.Module, attr: str) -> list[Step]:
    return [Step(f"{attr}.{i}", (f"{attr}.{i}",)) for i in range(len(getattr(model, attr)))]


def _resnet(m: nn.Module) -> list[Step]:
    return [Step("stem", ("conv1", "bn1", "relu")), Step("maxpool", ("maxpool",)),
            *(Step(s, (s,)) for s in ("layer1", "layer2", "layer3", "layer4"))]


def _regnet(m: nn.Module) -> list[Step]:
    trunk = m.get_submodule("trunk_output")
    return [Step("stem", ("stem",)), *(Step(f"trunk_output.{n}", (f"trunk_output.{n}",))
                                       for n, _ in trunk.named_children())]


def _swin(m: nn.Module) -> list[Step]:
    *stages, last = _children(m, "features")  # each (B, H, W, C): channels last
    return [*(Step(s.name, s.paths, "NHWC") for s in stages),
            Step(last.name, (*last.paths, "norm", "permute"))]  # the head's norm and permute to NCHW


# Each family: the model class(es) and its steps. Nothing about channels or strides is typed here.
FAMILIES: dict[str, tuple[tuple[type, ...], Callable[[nn.Module], list[Step]]]] = {
    "ResNet": ((tvm.ResNet, PackageResNet), _resnet),
    "VGG": ((tvm.VGG,), lambda m: _children(m, "features")),
    "ConvNeXt": ((tvm.ConvNeXt,), lambda m: _children(m, "features")),
    "EfficientNet": ((tvm.EfficientNet,), lambda m: _children(m, "features")),
    "MobileNetV3": ((tvm.MobileNetV3,), lambda m: _children(m, "features")),
    "RegNet": ((tvm.RegNet,), _regnet),
    "SwinTransformer": ((tvm.SwinTransformer,), _swin),
}
SUPPORTED = (*FAMILIES, "VisionTransformer")


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


def find_levels(body: nn.Module, steps: list[Step], in_channels: int) -> tuple[list[int], Levels]:
    """The index of the step closing each level, and the levels (read from the tensors of probes)."""
    probe = _AllSteps(body, steps)

    def sides(h: int, w: int) -> list[tuple[int, int, int]]:
        outs = shape_call(probe, (1, in_channels, h, w))
        assert isinstance(outs, list)
        return [(o.shape[1], o.shape[2], o.shape[3]) for o in outs]  # (C, H, W) of each step

    first = sides(*PROBES[0])
    ends = [i for i, (_c, h, _w) in enumerate(first)
            if h < PROBE and (i + 1 == len(first) or first[i + 1][1] != h)]
    reductions = [PROBE // first[i][1] for i in ends]
    factors = [r // p for r, p in zip(reductions, [1, *reductions[:-1]], strict=True)]
    roundings: list[str | None] = [None] * len(ends)
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


class Pyramid(nn.Module):
    """A model's own modules, called in its order, returning the last map at each resolution.

    ``feature_info[k].rounding`` is how level ``k``'s side follows from level ``k - 1``'s (the
    input's for ``k = 0``): Swin's patchify stem floors, its patch merging rounds up, so a side
    is chained level by level (``contract.level_sizes``).
    """

    def __init__(self, model: nn.Module, steps: list[Step], family: str) -> None:
        super().__init__()
        self.body = model  # shared, not copied: the model's weights are the pyramid's
        self.family = family
        self.steps = steps
        self.in_channels = _first_conv(model).in_channels
        ends, self.feature_info = find_levels(model, steps, self.in_channels)
        self.steps = steps[: ends[-1] + 1]  # the head is never called
        self.ends = frozenset(ends)
        self.fixed_size: tuple[int, int] | None = None

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_batch(x, self.in_channels, f"{self.family} pyramid", next(self.body.parameters()).dtype)
        levels = []
        for i, step in enumerate(self.steps):
            for path in step.paths:
                x = self.body.get_submodule(path)(x)  # (B, C_i, H_i, W_i), or (B, H_i, W_i, C_i) for NHWC
            if i in self.ends:
                levels.append(x.permute(0, 3, 1, 2) if step.layout == "NHWC" else x)  # (B, C, H/r, W/r)
        return levels


def new_parameters(pyramid: nn.Module) -> int:
    """How many of ``pyramid``'s parameters are not its model's (``pyramid.body``): modules the
    pyramid adds, randomly initialised, which only training gives values. 0 for every family that
    ``Pyramid`` serves (it only calls the model's modules); ViT's simple pyramid adds its scales."""
    body = pyramid.body
    assert isinstance(body, nn.Module)
    own = {id(p) for p in body.parameters()}
    return sum(p.numel() for p in pyramid.parameters() if id(p) not in own)


def _first_conv(model: nn.Module) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


def family_of(model: nn.Module) -> str:
    """The family name of a supported model; anything else is refused, naming what is supported."""
    if isinstance(model, tvm.VisionTransformer):
        return "VisionTransformer"
    for family, (classes, _steps) in FAMILIES.items():
        if isinstance(model, classes):
            return family
    raise TypeError(f"backbone() has no pyramid for {type(model).__name__}; supported model classes: "
                    f"{', '.join(SUPPORTED)} (by name: {', '.join(PYRAMIDS)})")


def build_torchvision(name: str) -> nn.Module:
    """torchvision's model ``name`` with ``weights=None``, on the default device (the meta device
    too: RegNet's builder computes its widths with tensors, which need values, so that step always
    runs on the CPU)."""
    from torchvision.models.regnet import BlockParams

    widths = BlockParams.from_init_params.__func__

    def on_cpu(cls: type, *args: object, **kwargs: object) -> BlockParams:
        with torch.device("cpu"):
            return widths(cls, *args, **kwargs)

    with mock.patch.object(BlockParams, "from_init_params", classmethod(on_cpu)):
        return torchvision.models.get_model(name, weights=None)


def build_on_meta(name: str) -> nn.Module:
    """torchvision's model ``name`` on the meta device: the architecture without memory or values."""
    with torch.device("meta"):
        return build_torchvision(name)


def backbone(model_or_name: nn.Module | str) -> nn.Module:
    """The feature pyramid of a torchvision classification model (or of its builder's name, built
    with ``weights=None``): forward returns NCHW maps fine to coarse; ``feature_info`` says what."""
    if isinstance(model_or_name, str):
        if model_or_name not in PYRAMIDS:
            raise ValueError(f"unknown backbone {model_or_name!r}; valid choices: {', '.join(PYRAMIDS)}")
        model_or_name = build_torchvision(model_or_name)
    if not isinstance(model_or_name, nn.Module):
        raise TypeError(f"backbone() takes a torchvision model or one of its names, got "
                        f"{type(model_or_name).__name__}; valid names: {', '.join(PYRAMIDS)}")
    family = family_of(model_or_name)
    if family == "VisionTransformer":
        from .simple_pyramid import ViTSimplePyramid

        return ViTSimplePyramid(model_or_name)
    return Pyramid(model_or_name, FAMILIES[family][1](model_or_name), family)
