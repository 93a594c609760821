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
``vit.py``.

``output_stride=16`` or ``8`` dilates the deeper stages instead of striding them (``dilation.py``):
on a copy of a model passed in (the caller's model keeps computing what it computed), on the
model itself when built from a name.

A Swin's window attentions are given a class that computes the same maps with no decision taken
in Python from the input's size (``windows.py``), so that its pyramid exports with dynamic H and
W; this is done in place, on a model passed in too (same modules, parameters and state dict).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

import torch
import torchvision
from torch import nn
from torchvision import models as tvm

from backbones_tutorial.checks import check_batch, check_choice
from backbones_tutorial.models.resnet import DeclaresLevels
from backbones_tutorial.models.resnet import ResNet as PackageResNet
from backbones_tutorial.pyramids.dilation import OUTPUT_STRIDES, apply_dilation, check_undilated, plan_dilation
from backbones_tutorial.pyramids.levels import Levels
from backbones_tutorial.pyramids.probe import Step, find_levels
from backbones_tutorial.pyramids.windows import any_size_windows
from backbones_tutorial.registry import PYRAMIDS

torch.fx.wrap("check_batch")  # symbolic tracing records the input check as a call

__all__ = ["FAMILIES", "Pyramid", "SUPPORTED", "backbone", "build_on_meta", "build_torchvision", "children_steps",
           "family_of", "new_parameters", "regnet_steps", "resnet_steps", "swin_steps"]


def children_steps(model: nn.Module, attr: str) -> list[Step]:
    return [Step(f"{attr}.{i}", (f"{attr}.{i}",)) for i in range(len(getattr(model, attr)))]


def resnet_steps(m: nn.Module) -> list[Step]:
    return [Step("stem", ("conv1", "bn1", "relu")), Step("maxpool", ("maxpool",)),
            *(Step(s, (s,)) for s in ("layer1", "layer2", "layer3", "layer4"))]


def regnet_steps(m: nn.Module) -> list[Step]:
    trunk = m.get_submodule("trunk_output")
    return [Step("stem", ("stem",)), *(Step(f"trunk_output.{n}", (f"trunk_output.{n}",))
                                       for n, _ in trunk.named_children())]


def swin_steps(m: nn.Module) -> list[Step]:
    *stages, last = children_steps(m, "features")  # each (B, H, W, C): channels last
    return [*(Step(s.name, s.paths, "NHWC") for s in stages),
            Step(last.name, (*last.paths, "norm", "permute"))]  # the head's norm and permute to NCHW


# Each family: the model class(es) and its steps. Nothing about channels or strides is typed here.
FAMILIES: dict[str, tuple[tuple[type, ...], Callable[[nn.Module], list[Step]]]] = {
    "ResNet": ((tvm.ResNet, PackageResNet), resnet_steps),
    "VGG": ((tvm.VGG,), lambda m: children_steps(m, "features")),
    "ConvNeXt": ((tvm.ConvNeXt,), lambda m: children_steps(m, "features")),
    "EfficientNet": ((tvm.EfficientNet,), lambda m: children_steps(m, "features")),
    "MobileNetV3": ((tvm.MobileNetV3,), lambda m: children_steps(m, "features")),
    "RegNet": ((tvm.RegNet,), regnet_steps),
    "SwinTransformer": ((tvm.SwinTransformer,), swin_steps),
}
SUPPORTED = (*FAMILIES, "VisionTransformer")


class Pyramid(nn.Module):
    """A model's own modules, called in its order, returning the last map at each resolution.

    ``feature_info[k].rounding`` is how level ``k``'s side follows from level ``k - 1``'s (the
    input's for ``k = 0``): Swin's patchify stem floors, its patch merging rounds up, so a side
    is chained level by level (``Levels.sizes``).

    With ``output_stride`` 16 or 8 the stages past it are dilated in ``model`` itself (checked
    first, changed only if every change is possible); each level keeps its stage (found on the
    undilated model) and ``feature_info[k].dilation`` says what stride it gave up.
    """

    def __init__(self, model: nn.Module, steps: list[Step], family: str, output_stride: int = 32) -> None:
        super().__init__()
        self.body = model  # shared, not copied: the model's weights are the pyramid's
        self.family = family
        self.steps = steps
        self.output_stride = output_stride
        self.in_channels = _first_conv(model).in_channels
        if output_stride == 32:
            check_undilated(model)  # its stages would merge where the resolution stops changing
            ends, self.feature_info = find_levels(model, steps, self.in_channels)
        else:
            plan = plan_dilation(model, family, output_stride)  # every check, no change
            ends, undilated = find_levels(model, steps, self.in_channels)
            apply_dilation(plan)
            ends, dilated = find_levels(model, steps, self.in_channels, ends=ends)  # read again
            self.feature_info = Levels(dataclasses.replace(f, dilation=u.reduction // f.reduction)
                                       for f, u in zip(dilated, undilated, strict=True))
            if isinstance(model, DeclaresLevels) and model.feature_info.names == self.feature_info.names:
                model.__dict__["_levels"] = list(self.feature_info)  # its own declaration, kept true
        self.steps = steps[: ends[-1] + 1]  # the head is never called
        self.ends = frozenset(ends)
        self.fixed_size: tuple[int, int] | None = None
        self.minimum_side = self.feature_info.minimum_side()  # VGG, ConvNeXt: 32; Swin: 4; the others: 1

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # the smallest side, checked in eager mode: under torch.compile or torch.export a size check
        # would become a guard, narrowing the dynamic sizes a user declared
        minimum = 1 if torch.compiler.is_compiling() else self.minimum_side
        check_batch(x, self.in_channels, f"{self.family} pyramid", next(self.body.parameters()).dtype, minimum)
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
    """torchvision's model ``name`` with ``weights=None``, on the default device, the meta device
    included (``build_on_meta``).

    RegNet's builder computes its stage widths with tensors and reads them back (``.tolist()``),
    which a meta tensor cannot do; under the meta device a RegNet is therefore built on the CPU and
    then moved to the meta device (regnet_y_128gf, the largest, takes a few seconds and about 2.6 GB
    while it is built).
    """
    if name.startswith("regnet_") and torch.get_default_device().type == "meta":
        with torch.device("cpu"):
            return torchvision.models.get_model(name, weights=None).to("meta")
    return torchvision.models.get_model(name, weights=None)


def build_on_meta(name: str) -> nn.Module:
    """torchvision's model ``name`` on the meta device: the architecture without memory or values."""
    with torch.device("meta"):
        return build_torchvision(name)


def backbone(model_or_name: nn.Module | str, output_stride: int = 32) -> nn.Module:
    """The feature pyramid of a torchvision classification model (or of its builder's name, built
    with ``weights=None``): forward returns NCHW maps fine to coarse; ``feature_info`` says what.

    ``output_stride`` (32, 16 or 8) is the coarsest reduction: below 32 the deeper stages are
    dilated instead of strided (ResNet, MobileNetV3, EfficientNet, RegNet, ConvNeXt; see
    ``dilation.py``). A model passed in is then copied (``copy.deepcopy``) and the copy dilated, so
    the caller's model is left as it was; at 32 the pyramid shares the caller's model. A Swin's
    window attentions get a class that computes the same maps and exports at any size
    (``windows.py``), in the caller's model too."""
    check_choice(output_stride, OUTPUT_STRIDES, "output_stride")
    built = isinstance(model_or_name, str)
    if isinstance(model_or_name, str):
        if model_or_name not in PYRAMIDS:
            raise ValueError(f"unknown backbone {model_or_name!r}; valid choices: {', '.join(PYRAMIDS)}")
        model_or_name = build_torchvision(model_or_name)
    if not isinstance(model_or_name, nn.Module):
        raise TypeError(f"backbone() takes a torchvision model or one of its names, got "
                        f"{type(model_or_name).__name__}; valid names: {', '.join(PYRAMIDS)}")
    family = family_of(model_or_name)
    if family == "VisionTransformer":
        if output_stride != 32:
            plan_dilation(model_or_name, family, output_stride)  # refused, naming the families that can
        from backbones_tutorial.pyramids.vit import ViTSimplePyramid

        return ViTSimplePyramid(model_or_name)
    if output_stride != 32:
        plan_dilation(model_or_name, family, output_stride)  # refused here, before any copy, if it must be
        if not built:
            model_or_name = copy.deepcopy(model_or_name)
    if family == "SwinTransformer":
        any_size_windows(model_or_name)  # the same maps, exportable at any size: windows.py
    return Pyramid(model_or_name, FAMILIES[family][1](model_or_name), family, output_stride)
