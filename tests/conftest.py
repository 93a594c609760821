"""Shared, expensive fixtures: models that many tests only read.

Building a model costs more than most tests spend on it (VGG16's random initialisation alone
takes about 2 s on 2 cores), so models that a test only runs or inspects are built once per
session. A test that changes a model (freezing, loading weights into it, deleting children)
builds its own.
"""

from __future__ import annotations

import functools

import pytest
import torch
import torchvision
from torch import nn

from backbones_tutorial.registry import build


@functools.cache
def _registry_model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return build(name).eval()


@functools.cache
def _torchvision_model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None).eval()


@pytest.fixture(scope="session")
def shared_model():
    """``shared_model("vgg16_blocks")``: the registry's model, built once, in eval mode. Read only."""
    return _registry_model


@pytest.fixture(scope="session")
def shared_torchvision():
    """``shared_torchvision("resnet50")``: torchvision's model with random weights, built once, in
    eval mode. Read only."""
    return _torchvision_model


def uninitialised(factory, *args, **kwargs) -> nn.Module:
    """``factory(*args, **kwargs)`` built on the meta device and given empty CPU storage: the
    architecture without the cost of random initialisation. Its values are garbage until a test
    loads a state dict into it with ``strict=True`` (which sets every parameter and buffer)."""
    with torch.device("meta"):
        model = factory(*args, **kwargs)
    return model.to_empty(device="cpu")


@functools.cache
def _zeroed(source: str, name: str) -> nn.Module:
    factory = (lambda: build(name)) if source == "registry" else (
        lambda: torchvision.models.get_model(name, weights=None))
    model = uninitialised(factory)
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.zero_()
    return model.eval()


@pytest.fixture(scope="session")
def zeroed_model():
    """``zeroed_model("registry", "vgg16")`` or ``zeroed_model("torchvision", "resnet50")``: the
    architecture with every parameter and buffer zero, built once without random initialisation.
    For tests of shapes and parameter counts only, which do not depend on the values. Read only."""
    return _zeroed


def random_bn_statistics(model: nn.Module, seed: int) -> None:
    """Give every BatchNorm2d non-trivial running statistics (seeded), so that a wrong mode or a
    weight left unloaded changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


class LastThree(nn.Module):
    """A user's pyramid made of another's last three levels, declared as a slice of its feature_info."""

    def __init__(self, pyramid: nn.Module) -> None:
        super().__init__()
        self.pyramid, self.feature_info = pyramid, pyramid.feature_info[1:]

    def forward(self, x):
        return self.pyramid(x)[1:]
