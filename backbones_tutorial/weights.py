"""Pretrained torchvision weights that work offline: name them, find them, load them safely.

torchvision's builders download weights on first use and cache them in torch hub's folder,
``$TORCH_HOME/hub/checkpoints/`` (``~/.cache/torch/hub/checkpoints/`` by default). Without a
network that first use fails or hangs. Here the cache is read first, files are read with
``weights_only=True`` (plain tensors only, no arbitrary pickled code) after their SHA-256 is
compared with the prefix in their name (``resnet18-f37072fd.pth``), a download has a timeout
and is checked before it enters the cache, every bad file is named with its remedy
(``BadCheckpoint``), a failed download says which file to fetch and where to put it, and
``pretrained_or_random`` lets a chapter run on random weights, saying so, when the file is not there.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import pickle
import re
import tempfile
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn
from torchvision.models import WeightsEnum

from backbones_tutorial.checks import check_choice

__all__ = ["BadCheckpoint", "DOWNLOAD_TIMEOUT", "HASH_PREFIX", "WeightsUnavailable", "checkpoint_path",
           "download_checkpoint", "load_checkpoint", "load_state_dict", "pretrained", "pretrained_or_random",
           "resolve_weights"]

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


DOWNLOAD_TIMEOUT = 30.0  # seconds without a byte from the server before a download gives up
HASH_PREFIX = re.compile(r"-([a-f0-9]{6,64})\.")  # torch hub's rule: the SHA-256 prefix in a file name


class BadCheckpoint(RuntimeError):
    """A weights file that cannot be used as it is; the message names the file and the remedy."""

    def __init__(self, path: pathlib.Path, problem: str, url: str | None = None) -> None:
        self.path, self.problem = path, problem
        source = (f": on a machine with network, download {url} and copy it into {path.parent}{os.sep} "
                  f"under the same name" if url else "")
        super().__init__(f"{path} {problem}. Delete it and copy it again{source}.")


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_checkpoint(path: str | os.PathLike, url: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict in the file ``path``, read on the CPU with ``weights_only=True``.

    Refuses, with ``BadCheckpoint`` naming the file and the remedy: a missing or empty file, one
    whose SHA-256 disagrees with the hash prefix in its name, a truncated or corrupt archive, a
    file that is no checkpoint, one holding objects other than tensors, and a training checkpoint
    that wraps its state dict (``{"model": ...}``, ``{"state_dict": ...}``).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise BadCheckpoint(path, "does not exist" if not path.exists() else "is not a file", url)
    if path.stat().st_size == 0:
        raise BadCheckpoint(path, "is empty (0 bytes): an interrupted copy or download", url)
    match = HASH_PREFIX.search(path.name)
    if match and not (digest := _sha256(path)).startswith(match.group(1)):
        raise BadCheckpoint(path, f"has SHA-256 {digest[:16]}..., but its name says it starts with "
                                  f"{match.group(1)}: it is another file or a damaged copy", url)
    with path.open("rb") as f:
        start = f.read(16)
    if not start.startswith((b"PK\x03\x04", b"\x80")):  # torch.save writes a zip; old files, a pickle
        raise BadCheckpoint(path, f"is not a PyTorch checkpoint (it begins with {start!r}, not a zip "
                                  f"archive or a pickle)", url)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err):
            raise BadCheckpoint(path, "holds objects other than tensors, which loading with weights_only=True "
                                      "refuses to rebuild (arbitrary pickled code); it is not a plain state dict",
                                url) from None
        raise BadCheckpoint(path, "is not a PyTorch checkpoint of plain tensors (the unpickler stopped "
                                  "at data it does not know)", url) from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BadCheckpoint(path, f"is truncated or corrupt ({first})", url) from None
    return _as_state_dict(state, path, url)


def _as_state_dict(state: object, path: pathlib.Path, url: str | None) -> dict[str, torch.Tensor]:
    if not isinstance(state, Mapping):
        raise BadCheckpoint(path, f"holds a {type(state).__name__}, not a state dict (a dict of tensors)", url)
    for key in ("state_dict", "model"):
        if isinstance(state.get(key), Mapping):
            raise BadCheckpoint(path, f"is a training checkpoint (keys {sorted(map(str, state))[:6]}): "
                                      f"its state dict is under {key!r}; save torch.load(...)[{key!r}] "
                                      f"as a file of its own to load it", url)
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        bad = next(k for k, v in state.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor)))
        raise BadCheckpoint(path, f"is not a state dict: entry {bad!r} is a {type(state[bad]).__name__}, "
                                  f"not a tensor", url)
    return dict(state)


def download_checkpoint(url: str, path: pathlib.Path, timeout: float = DOWNLOAD_TIMEOUT) -> None:
    """Download ``url`` to ``path``, giving up after ``timeout`` seconds without data, and checking the
    SHA-256 prefix in the file name before the file enters the folder (a bad download leaves nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".partial")
    tmp = pathlib.Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
        match = HASH_PREFIX.search(path.name)
        if match and not (digest := _sha256(tmp)).startswith(match.group(1)):
            raise OSError(f"the received file has SHA-256 {digest[:16]}..., not the {match.group(1)}... "
                          f"its name promises (a damaged download, or a proxy's page)")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


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


def load_state_dict(
    weights: WeightsEnum, *, download: bool = True, timeout: float = DOWNLOAD_TIMEOUT
) -> dict[str, torch.Tensor]:
    """The state dict of ``weights``: from the cache, else downloaded into it if ``download``.

    Raises ``WeightsUnavailable`` if the file is not cached and cannot be downloaded now (a
    download gives up after ``timeout`` seconds without data), ``BadCheckpoint`` if the cached
    file is damaged or another file (see ``load_checkpoint``).
    """
    if not isinstance(weights, WeightsEnum):
        raise TypeError(f"weights must be a torchvision WeightsEnum member such as ResNet18_Weights.IMAGENET1K_V1 "
                        f"(see resolve_weights), got {type(weights).__name__} {weights!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    path = checkpoint_path(weights)
    if path.exists():
        return load_checkpoint(path, weights.url)
    if not download:
        raise WeightsUnavailable(weights, path, "download=False")
    try:
        download_checkpoint(weights.url, path, timeout)
    except (OSError, http.client.HTTPException) as error:  # URLError, HTTPError, timeouts, SSL are OSErrors
        raise WeightsUnavailable(weights, path, f"download failed: {error}") from error
    return load_checkpoint(path, weights.url)


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
    _check_fits(model, state_dict, checkpoint_path(weights), weights.url)
    model.load_state_dict(state_dict, strict=True)
    return model


def _check_fits(model: nn.Module, state_dict: Mapping[str, torch.Tensor], path: pathlib.Path, url: str) -> None:
    """Raise ``BadCheckpoint`` naming a few mismatching keys if ``state_dict`` is not ``model``'s."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state_dict and state_dict[k].shape != v.shape]
    problems = [f"{len(found)} {what} ({', '.join(found[:3])}{', ...' if len(found) > 3 else ''})"
                for what, found in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("shapes that differ, file vs model", shapes)) if found]
    if problems:
        raise BadCheckpoint(path, f"does not fit {type(model).__name__}: " + "; ".join(problems)
                            + ": it holds another architecture's weights", url)


def pretrained_or_random(
    arch: str, weights: str | WeightsEnum = "DEFAULT", *, seed: int = 0, download: bool = False
) -> tuple[nn.Module, str]:
    """``pretrained(arch, weights)``, or a model with random weights drawn from ``seed`` if the file is missing.

    Returns the model and one line saying which weights it has. Never downloads unless asked, so a
    chapter does not hang offline; the caller's random state is left as it was. A file that is
    there but damaged is not papered over with random weights: ``BadCheckpoint`` names it.
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
