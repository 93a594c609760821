"""Six ways to get intermediate feature maps out of a torchvision ResNet, behind one interface.

``METHOD_TABLE`` holds one record per method: how to build it, whether it stops after the
deepest requested layer, whether it needs the model's source, its pitfall. Chapter 6, the
benchmark and the tests read it. ``build_extractor(method, model, layers)`` returns a module whose
forward gives the feature maps of ``layers`` (names of the model's stages, e.g.
``["layer1", ..., "layer4"]``) as a list, fine to coarse. ``BareForward`` is the reference: the
model's own modules called in order, stopping after the deepest requested layer. The tests check
that every method returns exactly the reference's tensors; ``bench`` measures what each one costs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import torch
import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.feature_extraction import create_feature_extractor

from backbones_tutorial.checks import check_choice, check_names
from backbones_tutorial.extractors.cut import truncate
from backbones_tutorial.models.resnet import STAGES

__all__ = ["BareForward", "ChildrenSlices", "DictToList", "HookExtractor", "METHODS", "METHOD_TABLE", "Method",
           "ResNetStages", "STOP_RULES", "Select", "StagesWrapper", "WHEN_LAST_STAGE", "build_extractor",
           "method_record", "runs_only_needed_layers"]

ALWAYS, NEVER = "always", "never"
WHEN_LAST_STAGE = f"only when {STAGES[-1]} is the deepest requested"
STOP_RULES = (ALWAYS, NEVER, WHEN_LAST_STAGE)  # when a method computes nothing past the deepest layer


def _check_layers(layers: Sequence[str]) -> list[str]:
    if isinstance(layers, str):
        raise TypeError(f"layers must be a list of stage names, e.g. ['{layers}'], got the string {layers!r}")
    layers = list(layers)
    if not layers:
        raise ValueError(f"layers must name at least one stage of {STAGES}")
    for name in layers:
        check_choice(name, STAGES, "stage")
    if layers != sorted(layers, key=STAGES.index) or len(set(layers)) != len(layers):
        raise ValueError(f"layers must be distinct and ordered fine to coarse, e.g. ['layer2', 'layer4']; got {layers}")
    return layers


class BareForward(nn.Module):
    """The reference: the model's modules called in order, up to the deepest requested layer."""

    def __init__(self, model: torchvision.models.ResNet, layers: Sequence[str]) -> None:
        super().__init__()
        self.model, self.layers = model, _check_layers(layers)
        self.depth = STAGES.index(self.layers[-1]) + 1

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))  # (B, 64, H/4, W/4)
        out = []
        for name in STAGES[: self.depth]:
            x = getattr(m, name)(x)  # layer1 .. layer4: H/4 .. H/32
            if name in self.layers:
                out.append(x)
        return out


class ChildrenSlices(nn.Module):
    """Method 1: the model's children sliced (``truncate``) and split at each requested layer."""

    def __init__(self, model: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        self.layers = _check_layers(layers)
        cut = truncate(model, self.layers[-1])  # drops everything after the deepest layer
        segments, current = [], OrderedDict()
        for name, child in cut.named_children():
            current[name] = child
            if name in self.layers:
                segments.append(nn.Sequential(current))
                current = OrderedDict()
        self.segments = nn.ModuleList(segments)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for segment in self.segments:
            x = segment(x)
            out.append(x)
        return out


class Select(nn.Module):
    """Keep some of the four stages a model returns (it still computes all of them)."""

    def __init__(self, pyramid: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        self.pyramid = pyramid
        self.indices = [STAGES.index(name) for name in _check_layers(layers)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        levels = self.pyramid(x)
        return [levels[i] for i in self.indices]


class DictToList(nn.Module):
    """Turn the dict that torchvision's extractors return into a list, in the requested order."""

    def __init__(self, extractor: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        self.extractor, self.layers = extractor, list(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = self.extractor(x)
        return [out[name] for name in self.layers]


class HookExtractor(nn.Module):
    """Method 6: forward hooks on the requested modules, then a full forward of the model.

    With ``clone=False`` a hook keeps a reference to the module's output tensor: if a later
    in-place op modifies it (a Bottleneck's ``out += identity`` right after ``bn3``), the
    stored "feature" silently becomes the modified tensor. ``clone=True`` stores a copy.
    """

    def __init__(self, model: nn.Module, names: Sequence[str], clone: bool = True) -> None:
        super().__init__()
        self.model, self.names, self.clone = model, check_names(names), clone
        if not self.names:
            raise ValueError(f"names is empty: name at least one submodule of {type(model).__name__} to hook, "
                             f"e.g. ['layer2']")
        modules = dict(model.named_modules())
        for name in self.names:
            check_choice(name, [n for n in modules if n], f"submodule of {type(model).__name__}")
            if self.names.count(name) > 1:
                raise ValueError(f"{name!r} is named twice in {self.names}: a hook stores one output per module, "
                                 f"so the names must be distinct")
        self._store: dict[str, torch.Tensor] = {}
        self._handles = [modules[n].register_forward_hook(self._hook(n)) for n in self.names]
        self._removed = False

    def _hook(self, name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            self._store[name] = output.clone() if self.clone else output
        return hook

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self._removed:  # a bool, not the handles: torch.compile cannot represent a RemovableHandle
            raise RuntimeError(f"this HookExtractor's hooks were removed (remove()); build a new one to "
                               f"extract {self.names} again")
        self._store.clear()
        self.model(x)  # the whole network runs, head included
        return [self._store.pop(name) for name in self.names]

    def remove(self) -> None:
        """Detach the hooks from the model."""
        for handle in self._handles:
            handle.remove()
        self._handles, self._removed = [], True


class ResNetStages(torchvision.models.ResNet):
    """Method 2 as chapter 6 shows it: torchvision's ResNet whose forward returns the four stages."""

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, 64, H/4, W/4)
        c2 = self.layer1(x)  # (B, 64*e, H/4, W/4)
        c3 = self.layer2(c2)  # (B, 128*e, H/8, W/8)
        c4 = self.layer3(c3)  # (B, 256*e, H/16, W/16)
        c5 = self.layer4(c4)  # (B, 512*e, H/32, W/32)
        return [c2, c3, c4, c5]


class StagesWrapper(nn.Module):
    """Method 3 as chapter 6 shows it: a finished ResNet kept as ``body``, its layers called in order."""

    def __init__(self, resnet: torchvision.models.ResNet) -> None:
        super().__init__()
        self.body = resnet  # its parameters are now named body.conv1.weight, ...

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        r = self.body
        x = r.maxpool(r.relu(r.bn1(r.conv1(x))))  # (B, 64, H/4, W/4)
        c2 = r.layer1(x)  # (B, 64*e, H/4, W/4)
        c3 = r.layer2(c2)  # (B, 128*e, H/8, W/8)
        c4 = r.layer3(c3)  # (B, 256*e, H/16, W/16)
        c5 = r.layer4(c4)  # (B, 512*e, H/32, W/32)
        return [c2, c3, c4, c5]


def _subclass(model: torchvision.models.ResNet, layers: list[str]) -> nn.Module:
    """Method 2: ``ResNetStages``, built by torchvision's constructor with the model's arguments, its
    weights loaded strictly, its trainable flags and mode copied. (The package's ``ResNetFeatures`` of
    chapter 4 also returns the stem map: not what chapter 6 shows, and its memory would be charged
    to the method.) A module the constructor does not build (a FrozenBatchNorm2d, a replaced head)
    is refused by name: a copy by state dict could not reproduce it."""
    block, counts = type(model.layer1[0]), [len(getattr(model, s)) for s in STAGES]
    conv2 = cast(nn.Conv2d, model.layer1[0].conv2)  # its groups and width: ResNeXt, wide ResNet
    kwargs = {"groups": conv2.groups, "width_per_group": conv2.out_channels // conv2.groups}
    if isinstance(model.fc, nn.Linear):
        kwargs["num_classes"] = model.fc.out_features
    reference = next(model.parameters())
    with torch.device("meta"):  # no random initialisation: load_state_dict sets every value below
        features = ResNetStages(block, counts, replace_stride_with_dilation=_dilated_stages(model), **kwargs)
    built = dict(features.named_modules())
    for name, module in model.named_modules():
        if hasattr(module, "_keep_eval_handle"):
            what = "held in eval mode by freeze()"
        elif name and name in built and type(built[name]) is not type(module):
            what = (f"of type {type(module).__name__} where torchvision's constructor builds "
                    f"{type(built[name]).__name__}")
        else:
            continue
        raise ValueError(f"the subclass method rebuilds the model with torchvision's constructor and loads its "
                         f"state dict, which cannot reproduce {name!r}: it is {what}. Build the extractor "
                         f"first and change it after, or use a method that keeps the model's own modules "
                         f"('wrapper', 'children')")
    features = features.to_empty(device=reference.device).to(reference.dtype)
    features.load_state_dict(model.state_dict(), strict=True)
    trainable = {name: p.requires_grad for name, p in model.named_parameters()}
    for name, p in features.named_parameters():
        p.requires_grad_(trainable[name])  # a copy frozen where the model is
    return Select(features.train(model.training), layers)


def _dilated_stages(model: torchvision.models.ResNet) -> list[bool]:
    """Which of layer2..layer4 torchvision built dilated instead of strided (``replace_stride_with_dilation``):
    a dilated stage's later blocks have a larger dilation than the stage before it (weights alone
    cannot say: a dilated 3x3 conv has the shape of a strided one)."""
    flags, previous = [], 1
    for name in STAGES[1:]:
        dilation = getattr(model, name)[-1].conv2.dilation[0]  # the 3x3 conv of the stage's last block
        flags.append(dilation > previous)
        previous = dilation
    return flags


def _wrapper(model: torchvision.models.ResNet, layers: list[str]) -> nn.Module:
    """Method 3: ``StagesWrapper``, the wrapper that calls the model's layers in order."""
    return Select(StagesWrapper(model), layers)


def _fx(model: torchvision.models.ResNet, layers: list[str]) -> nn.Module:
    """Method 4: torchvision's ``create_feature_extractor`` (symbolic tracing with torch.fx)."""
    return DictToList(create_feature_extractor(model, {n: n for n in layers}), layers)


def _intermediate_layer_getter(model: torchvision.models.ResNet, layers: list[str]) -> nn.Module:
    """Method 5: torchvision's ``IntermediateLayerGetter`` (the top-level children, run in order)."""
    return DictToList(IntermediateLayerGetter(model, {n: n for n in layers}), layers)


@dataclass(frozen=True)
class Method:
    """One extraction method: how to build it, what it computes, what it asks of you."""

    name: str
    build: Callable[[torchvision.models.ResNet, list[str]], nn.Module]  # (model, checked layers) -> extractor
    stops: str  # when it computes nothing past the deepest requested layer: one of STOP_RULES
    needs_source: bool  # must you read or edit the model's forward?
    why: str  # one word for how it gets at the layers ("slices", "overrides", ...)
    pitfall: str

    def __post_init__(self) -> None:
        check_choice(self.stops, STOP_RULES, f"stop rule of method {self.name!r}")
        for field in ("name", "why", "pitfall"):
            if not isinstance(getattr(self, field), str) or not getattr(self, field):
                raise ValueError(f"method {self.name!r} needs a non-empty {field}, got {getattr(self, field)!r}")

    @property
    def source(self) -> str:
        """Whether it needs the model's source, with the why: ``"no (slices)"``."""
        return f"{'yes' if self.needs_source else 'no'} ({self.why})"

    def runs_only_needed_layers(self, layers: Sequence[str]) -> bool:
        """Whether it computes nothing past the deepest of ``layers``, by its stop rule."""
        deepest = _check_layers(layers)[-1]
        return self.stops == ALWAYS or (self.stops == WHEN_LAST_STAGE and deepest == STAGES[-1])


METHOD_TABLE = (
    Method("children", ChildrenSlices, ALWAYS, False, "slices", "forward must call children in order"),
    Method("subclass", _subclass, WHEN_LAST_STAGE, True, "overrides", "copied forward; runs to layer4"),
    Method("wrapper", _wrapper, WHEN_LAST_STAGE, True, "replicates", "'body.' names; runs to layer4"),
    Method("fx", _fx, ALWAYS, False, "traces", "forward must be traceable"),
    Method("intermediate_layer_getter", _intermediate_layer_getter, ALWAYS, False, "slices",
           "top-level children only"),
    Method("hooks", HookExtractor, NEVER, False, "observes", "needs clone(); runs everything"),
)
METHODS = tuple(m.name for m in METHOD_TABLE)


def method_record(method: str) -> Method:
    """The record of ``method`` (one of ``METHODS``) in ``METHOD_TABLE``."""
    check_choice(method, METHODS, "extraction method")
    return METHOD_TABLE[METHODS.index(method)]


def runs_only_needed_layers(method: str, layers: Sequence[str]) -> bool:
    """Whether ``method`` computes nothing past the deepest requested layer (its stop rule)."""
    return method_record(method).runs_only_needed_layers(layers)


def build_extractor(method: str, model: torchvision.models.ResNet, layers: Sequence[str]) -> nn.Module:
    """An extractor of ``layers`` from ``model`` by ``method``, built as its record says."""
    record = method_record(method)
    if not isinstance(model, torchvision.models.ResNet):
        raise TypeError(f"build_extractor expects a torchvision.models.ResNet, got {type(model).__name__}")
    return record.build(model, _check_layers(layers))
