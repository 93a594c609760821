"""Predicting each stage's output shape for any input size, without running the model.

The model is built on the ``meta`` device (no memory, no weights) and its modules are walked
in order, applying the convolution and pooling arithmetic

    out = floor((in + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1

(``ceil`` instead of ``floor`` for pools with ``ceil_mode``). Residual blocks follow their
main path; the shortcut has the same output shape by construction. The tests compare every
prediction with a torchinfo measurement over many random sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from backbones_tutorial.checks import check_choice, check_int, check_size
from backbones_tutorial.extractors.zoo import maxpool_indices
from backbones_tutorial.params import count_params
from backbones_tutorial.registry import MODELS, PREDICTABLE

__all__ = ["Predicted", "SHAPE_PRESERVING", "SizeTooSmall", "T", "checked_prediction", "minimum_size",
           "predict_shapes"]

SHAPE_PRESERVING = (nn.BatchNorm2d, FrozenBatchNorm2d, nn.ReLU, nn.Dropout, nn.Identity)

T = TypeVar("T")


class SizeTooSmall(ValueError):
    """The input is too small: some convolution or pooling would produce an empty map."""


@dataclass(frozen=True)
class Predicted:
    name: str
    shape: tuple[int, ...]  # (C, H, W), or (features,) after the head's flatten
    reduction: int | None  # input size / output size for spatial outputs, e.g. 32 for H/32
    params: int


@dataclass
class _State:
    shape: tuple[int, ...]
    reduction: int | None  # None once an adaptive pool or a flatten has fixed the size


def _pair(v: T | tuple[T, ...]) -> tuple[T, T]:
    return (v[0], v[1]) if isinstance(v, tuple) else (v, v)


def _window(state: _State, m: nn.Module, kernel, stride, padding, dilation=1, ceil_mode=False) -> _State:
    c, *hw = state.shape
    k, s, p, d = _pair(kernel), _pair(stride), _pair(padding), _pair(dilation)
    out = []
    for i, n in enumerate(hw):
        num = n + 2 * p[i] - d[i] * (k[i] - 1) - 1
        size = (math.ceil(num / s[i]) if ceil_mode else num // s[i]) + 1
        if num < 0 or size < 1:
            raise SizeTooSmall(f"{type(m).__name__} gets a {n}-pixel side and would output nothing")
        out.append(size)
    return _State((c, *out), state.reduction and state.reduction * s[0])


def _step(m: nn.Module, state: _State) -> _State:
    if isinstance(m, nn.Conv2d):
        if state.shape[0] != m.in_channels:
            raise ValueError(f"{m} expects {m.in_channels} channels, gets {state.shape[0]}")
        s = _window(state, m, m.kernel_size, m.stride, m.padding, m.dilation)
        return _State((m.out_channels, *s.shape[1:]), s.reduction)
    if isinstance(m, nn.MaxPool2d):
        return _window(state, m, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    if isinstance(m, nn.AvgPool2d):
        return _window(state, m, m.kernel_size, m.stride, m.padding, 1, m.ceil_mode)
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        h, w = _pair(m.output_size)
        return _State((state.shape[0], h or state.shape[1], w or state.shape[2]), None)
    if isinstance(m, SHAPE_PRESERVING):
        return state
    if isinstance(m, nn.Flatten):
        return _State((math.prod(state.shape),), None)
    if isinstance(m, nn.Linear):
        features = math.prod(state.shape)  # the model's forward flattens before its head
        if features != m.in_features:
            raise ValueError(f"{m} expects {m.in_features} features, gets {features} from shape {state.shape}")
        return _State((m.out_features,), None)
    if isinstance(m, nn.Sequential):
        for child in m:
            state = _step(child, state)
        return state
    if hasattr(m, "downsample") and hasattr(m, "conv2"):  # a residual block: follow the main path
        for name in ("conv1", "conv2", "conv3"):
            if hasattr(m, name):
                state = _step(getattr(m, name), state)
        return state
    raise NotImplementedError(f"no shape rule for {type(m).__name__}; known: Conv2d, pools, BN, ReLU, Linear, blocks")


def predict_shapes(arch: str, size: tuple[int, int], in_channels: int = 3) -> list[Predicted]:
    """One row per top-level child of ``arch``: output shape, reduction and parameters."""
    check_choice(arch, PREDICTABLE, "architecture")
    size = check_size(size)
    check_int(in_channels, "in_channels")
    with torch.device("meta"):
        model = MODELS[arch].build()
    return _walk(model, size, in_channels)


def _walk(model: nn.Module, size: tuple[int, int], in_channels: int) -> list[Predicted]:
    h, w = check_size(size)
    state, rows = _State((in_channels, h, w), 1), []
    for name, child in model.named_children():
        if isinstance(child, nn.Sequential) and len(pools := maxpool_indices(child)) > 1:
            # VGG's features: one row per block, closed by its max-pool
            start = 0
            for i in pools:
                block = child[start : i + 1]
                state = _step(block, state)
                rows.append(Predicted(f"{name}.{i}", state.shape, state.reduction, count_params(block)))
                start = i + 1
            child, name = child[start:], f"{name}[{start}:]"
            if len(child) == 0:
                continue
        state = _step(child, state)
        rows.append(Predicted(name, state.shape, state.reduction, count_params(child)))
    return rows


def minimum_size(arch: str, in_channels: int = 3, limit: int = 4096) -> int:
    """The smallest side (square input) for which every stage of ``arch`` has a non-empty output."""
    check_choice(arch, PREDICTABLE, "architecture")
    check_int(in_channels, "in_channels")
    check_int(limit, "limit")
    with torch.device("meta"):
        model = MODELS[arch].build()
    for n in range(1, limit + 1):
        try:
            _walk(model, (n, n), in_channels)
            return n
        except SizeTooSmall:
            continue
    raise SizeTooSmall(f"{arch} needs an input side above {limit}")


def checked_prediction(arch: str, size: tuple[int, int]) -> list[Predicted]:
    """``predict_shapes``, with a too-small size reported together with the minimum."""
    size = check_size(size)
    try:
        return predict_shapes(arch, size)
    except SizeTooSmall as e:
        n = minimum_size(arch)
        raise SizeTooSmall(f"input {size[0]}x{size[1]} is too small for {arch} ({e}); the minimum is {n}x{n}") from None
