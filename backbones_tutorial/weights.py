"""Pretrained torchvision weights that work offline: name them, find them, load them safely.

torchvision's builders download weights on first use and cache them in torch hub's folder,
``$TORCH_HOME/hub/checkpoints/`` (``~/.cache/torch/hub/checkpoints/`` by default). Without a
network that first use fails or hangs. Here the cache is read first, files are read with
``weights_only=True`` (plain tensors only, no arbitrary pickled code), a failed download says
which file to fetch and where to put it, and ``pretrained_or_random`` lets a chapter run on
random weights, saying so, when the file is not there.
"""

from __future__ import annotations

import http.client
import os
import pathlib
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum

from .checks import check_choice

__all__ = [
    "WeightsUnavailable",
    "checkpoint_path",
    "load_state_dict",
    "pretrained",
    "pretrained_or_random",
    "resolve_weights",
]

# Builders that change the model for its weights beyond loading the state dict: DenseNet renames
# old checkpoint keys, GoogLeNet and Inception v3 switch on ``transform_input``. Rebuilding them
# with ``weights=None`` would fail (DenseNet) or silently expect other inputs (the other two).
_ADJUSTED_BY_BUILDER = ("densenet121", "densenet161", "densenet169", "densenet201", "googlenet", "inception_v3")


class WeightsUnavailable(RuntimeError):
    """The weights file is neither in torch hub's cache nor downloadable now."""

    def __init__(self, weights: WeightsEnum, path: pathlib.Path, reason: str) -> None:
        self.weights, self.path, self.reason = weights, path, reason
        super().__init__(
            f"{_weights_name(weights)} is not available ({reason}): {path.name} is not in {path.parent}{os.sep} "
            f"(torch hub's cache, $TORCH_HOME/hub/checkpoints/). On a machine with network, download "
            f"{weights.url} and copy it into that folder under the same name, {path.name}."
        )


def _weights_name(weights: WeightsEnum) -> str:
    """The name torchvision prints, e.g. ``ResNet50_Weights.IMAGENET1K_V2``."""
    return f"{type(weights).__name__}.{weights.name}"


def resolve_weights(arch: str, weights: str | WeightsEnum) -> WeightsEnum:
    """The weights enum member for ``arch`` named by ``weights`` ("IMAGENET1K_V1", "DEFAULT", ...).

    ``DEFAULT`` is torchvision's best weights for the architecture, which is not always what the
    legacy ``pretrained=True`` loaded: for resnet50, ``DEFAULT`` is ``IMAGENET1K_V2`` (a newer
    training recipe) while ``pretrained=True`` still means ``IMAGENET1K_V1``.
    """
    check_choice(arch, torchvision.models.list_models(), "torchvision architecture")
    enum = torchvision.models.get_model_weights(arch)
    if isinstance(weights, WeightsEnum):
        if not isinstance(weights, enum):
            raise ValueError(
                f"{arch} takes {enum.__name__} weights, got {_weights_name(weights)}; "
                f"valid choices: {', '.join(_weights_name(w) for w in enum)}"
            )
        return weights
    if not isinstance(weights, str):
        raise TypeError(f"weights must be a name or a {enum.__name__} member, got {type(weights).__name__}")
    name = weights.removeprefix(f"{enum.__name__}.")  # also accept the printed form
    check_choice(name, [w.name for w in enum] + ["DEFAULT"], f"weights for {arch}")
    return enum[name]


def checkpoint_path(weights: WeightsEnum) -> pathlib.Path:
    """Where torch hub caches the weights file: ``torch.hub.get_dir()/checkpoints/<file name>``."""
    file_name = os.path.basename(urlparse(weights.url).path)  # the name torch.hub gives it
    return (pathlib.Path(torch.hub.get_dir()) / "checkpoints" / file_name).resolve()


def load_state_dict(weights: WeightsEnum, *, download: bool = True) -> dict[str, torch.Tensor]:
    """The state dict of ``weights``: from the cache, else downloaded into it if ``download``.

    Raises ``WeightsUnavailable`` if the file is not cached and cannot be downloaded now.
    """
    path = checkpoint_path(weights)
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=True)
    if not download:
        raise WeightsUnavailable(weights, path, "download=False")
    try:
        return torch.hub.load_state_dict_from_url(
            weights.url,
            model_dir=str(path.parent),
            map_location="cpu",
            progress=False,
            check_hash=True,  # torchvision file names end with the first digits of their SHA-256
            weights_only=True,
        )
    except (OSError, http.client.HTTPException) as error:  # URLError, HTTPError, timeouts, SSL are OSErrors
        raise WeightsUnavailable(weights, path, f"download failed: {error}") from error


def pretrained(arch: str, weights: str | WeightsEnum = "DEFAULT", *, download: bool = True) -> nn.Module:
    """The torchvision classification model ``arch`` with ``weights`` loaded strictly."""
    check_choice(arch, torchvision.models.list_models(module=torchvision.models), "classification architecture")
    if arch in _ADJUSTED_BY_BUILDER:
        raise ValueError(
            f"{arch}'s builder adapts the model to its weights, which this loader does not; "
            f"use torchvision.models.get_model({arch!r}, weights=...) instead"
        )
    weights = resolve_weights(arch, weights)
    state_dict = load_state_dict(weights, download=download)
    model = torchvision.models.get_model(arch, weights=None)
    model.load_state_dict(state_dict, strict=True)
    return model


def pretrained_or_random(
    arch: str, weights: str | WeightsEnum = "DEFAULT", *, seed: int = 0, download: bool = False
) -> tuple[nn.Module, str]:
    """``pretrained(arch, weights)``, or a model with random weights drawn from ``seed`` if the file is missing.

    Returns the model and one line saying which weights it has. Never downloads unless asked, so a
    chapter does not hang offline; the caller's random state is left as it was.
    """
    weights = resolve_weights(arch, weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = pretrained(arch, weights, download=download)
        except WeightsUnavailable as missing:
            model = torchvision.models.get_model(arch, weights=None)
            folder = f"{missing.path.parent}{os.sep}"
            return model, (
                f"random weights (seed {seed}): {missing.path.name} not found in {folder} ({missing.reason}); "
                f"download {weights.url} into that folder to use {_weights_name(weights)}"
            )
    return model, f"pretrained weights {_weights_name(weights)} from {checkpoint_path(weights).name}"
