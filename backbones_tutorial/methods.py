"""Six ways to get intermediate feature maps out of a torchvision ResNet, behind one interface.

``build_extractor(method, model, layers)`` returns a module whose forward gives the feature
maps of ``layers`` (names of the model's stages, e.g. ``["layer1", ..., "layer4"]``) as a list,
fine to coarse. ``bare_forward`` is the reference: the model's own modules called in order,
stopping after the deepest requested layer. The tests check that every method returns exactly
the reference's tensors; ``bench`` measures what each one costs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.feature_extraction import create_feature_extractor

from .checks import check_choice
from .extract import truncate
from .pyramid import ResNetBackbone, ResNetFeatures
from .resnet import LEVELS, STAGES

METHODS = ("children", "subclass", "wrapper", "fx", "intermediate_layer_getter", "hooks")


def _check_layers(layers: Sequence[str]) -> list[str]:
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
    """Keep some of the levels a pyramid model returns (it still computes all of them)."""

    def __init__(self, pyramid: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        self.pyramid = pyramid
        self.indices = [LEVELS.index(name) for name in _check_layers(layers)]

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
        self.model, self.names, self.clone = model, list(names), clone
        modules = dict(model.named_modules())
        for name in self.names:
            check_choice(name, [n for n in modules if n], f"submodule of {type(model).__name__}")
        self._store: dict[str, torch.Tensor] = {}
        self._handles = [modules[n].register_forward_hook(self._hook(n)) for n in self.names]

    def _hook(self, name: str):
        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            self._store[name] = output.clone() if self.clone else output
        return hook

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        self._store.clear()
        self.model(x)  # the whole network runs, head included
        return [self._store.pop(name) for name in self.names]

    def remove(self) -> None:
        """Detach the hooks from the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


def runs_only_needed_layers(method: str, layers: Sequence[str]) -> bool:
    """Whether ``method`` computes nothing past the deepest requested layer."""
    check_choice(method, METHODS, "extraction method")
    if method in ("subclass", "wrapper"):  # the pyramid always runs up to layer4
        return list(layers)[-1] == STAGES[-1]
    return method != "hooks"  # hooks run the whole model, head included


def build_extractor(method: str, model: torchvision.models.ResNet, layers: Sequence[str]) -> nn.Module:
    """An extractor of ``layers`` from ``model`` by ``method`` (one of ``METHODS``)."""
    check_choice(method, METHODS, "extraction method")
    if not isinstance(model, torchvision.models.ResNet):
        raise TypeError(f"build_extractor expects a torchvision.models.ResNet, got {type(model).__name__}")
    layers = _check_layers(layers)
    if method == "children":
        return ChildrenSlices(model, layers)
    if method == "subclass":
        block, counts = type(model.layer1[0]), [len(getattr(model, s)) for s in STAGES]
        features = ResNetFeatures(block, counts)
        features.load_state_dict(model.state_dict(), strict=True)
        return Select(features, layers)
    if method == "wrapper":
        return Select(ResNetBackbone(model), layers)
    if method == "fx":
        return DictToList(create_feature_extractor(model, {n: n for n in layers}), layers)
    if method == "intermediate_layer_getter":
        return DictToList(IntermediateLayerGetter(model, {n: n for n in layers}), layers)
    return HookExtractor(model, layers)


def compatibility(method: str, model: torchvision.models.ResNet, layers: Sequence[str]) -> dict[str, bool]:
    """Try the extractor with torch.fx, TorchScript and torch.compile; True where the result
    runs and returns the same tensors as the extractor itself.

    ``torch.compile`` is asked for one graph (``fullgraph=True``, the ``eager`` backend: the
    capture is what is tested, not code generation). TorchScript is deprecated in recent
    PyTorch but still what many deployment paths use.
    """
    import warnings

    extractor = build_extractor(method, model, layers).eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = extractor(x)

    def same(fn) -> bool:
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = fn()(x)
            return len(got) == len(want) and all(torch.equal(a, b) for a, b in zip(got, want))
        except Exception:  # any failure to trace, script or compile counts as "does not work"
            return False

    result = {
        "torch.fx": same(lambda: torch.fx.symbolic_trace(extractor)),
        "TorchScript": same(lambda: torch.jit.script(extractor)),
        "torch.compile": same(lambda: torch.compile(extractor, backend="eager", fullgraph=True)),
    }
    torch._dynamo.reset()
    if isinstance(extractor, HookExtractor):
        extractor.remove()
    return result
