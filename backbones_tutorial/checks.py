"""Argument checks shared by the package: one helper per kind of argument.

Each names what it got, what it expected and the valid choices, with a hint where a usual
mistake is behind it (a uint8 image, a missing batch dimension, a trailing dot in a layer name).
They run at the package's public boundary (a model's entry, a function's first lines), before
anything of the caller's is changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Optional, TypeGuard

import torch

__all__ = ["ShortcutMismatch", "check_batch", "check_choice", "check_dtype", "check_input_shape", "check_int",
           "check_name", "check_names", "check_pyramid", "check_shortcut", "check_size", "check_type", "is_int",
           "size_hint"]


def _dtype_hint(x: torch.Tensor, want: torch.dtype) -> str:
    if x.dtype == torch.uint8:
        return ("; a uint8 image: convert with x.float() / 255 and normalise with the ImageNet mean and std "
                "(backbones_tutorial.data.IMAGENET_MEAN, IMAGENET_STD)")
    if x.is_floating_point():
        return f"; convert the input with x.to({want}) (or the model with model.to({x.dtype}))"
    return f"; convert the input with x.to({want}) (integer or bool tensors are not images a model can read)"


def check_batch(
    x: torch.Tensor, channels: int, where: str, dtype: Optional[torch.dtype] = None, minimum: int = 1  # noqa: UP045
) -> None:
    """Raise if ``x`` is not a (B, channels, H, W) tensor with H, W >= ``minimum`` (and of ``dtype``, if given).

    Modules that call it from ``forward`` register it with ``torch.fx.wrap("check_batch")`` so
    that symbolic tracing records the call instead of branching on a Proxy. (``Optional`` rather
    than ``| None`` because TorchScript compiles this function too.)
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where} expects a torch.Tensor of shape (B, {channels}, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        hint = " (add a batch dimension: x.unsqueeze(0))" if x.dim() == 3 else ""
        raise ValueError(
            f"{where} expects a 4-D batch (B, {channels}, H, W), got a {x.dim()}-D tensor of shape "
            f"{list(x.shape)}{hint}"
        )
    if x.shape[1] != channels:
        hint = " (channels last? permute with x.permute(0, 3, 1, 2))" if x.shape[3] == channels else ""
        raise ValueError(
            f"{where} expects {channels} input channels (B, {channels}, H, W), got {x.shape[1]} "
            f"in shape {list(x.shape)}{hint}"
        )
    if x.shape[2] < minimum or x.shape[3] < minimum:
        raise ValueError(f"{where} expects H and W of at least {minimum}, got shape {list(x.shape)}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{where} has {dtype} parameters and expects a {dtype} input, got {x.dtype}"
                        + _dtype_hint(x, dtype))


def check_dtype(x: torch.Tensor, dtype: torch.dtype, where: str, what: str = "input") -> None:
    """Raise a TypeError if ``x`` is not of ``dtype`` (a module's weights), outside autocast: under
    ``torch.autocast`` a low-precision input to float32 weights is what autocast is for."""
    if x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(f"{where} has {dtype} weights and expects a {dtype} {what}, got {x.dtype}"
                        + _dtype_hint(x, dtype))


def check_shortcut(out: torch.Tensor, identity: torch.Tensor, block: str) -> None:
    """Raise ``ShortcutMismatch`` if a block's residual branch and its shortcut differ in shape."""
    if out.shape != identity.shape:
        stride = -(-identity.shape[-1] // max(out.shape[-1], 1))
        raise ShortcutMismatch(
            f"{block}: the residual branch F(x) has shape {list(out.shape)} but the shortcut gives "
            f"{list(identity.shape)}, so they cannot be added; a block that changes the channel count or "
            f"subsamples (stride > 1) needs a projection shortcut: "
            f"downsample=projection({identity.shape[1]}, {out.shape[1]}, {stride})"
        )


class ShortcutMismatch(RuntimeError):
    """A residual block whose shortcut does not match its branch (a RuntimeError, as torch's own add raises)."""


def check_choice(value: object, choices: Iterable[object], what: str) -> None:
    """Raise a ValueError naming the valid choices if ``value`` is not one of them."""
    choices = list(choices)
    if isinstance(value, bool) or value not in choices:  # True == 1: not a choice among ints
        raise ValueError(f"unknown {what} {value!r}; valid choices: {', '.join(map(repr, choices))}")
    if not any(isinstance(value, type(c)) and value == c for c in choices):  # 16.0 == 16, but not an int
        raise TypeError(f"{what} {value!r} is a {type(value).__name__}; valid choices: "
                        f"{', '.join(map(repr, choices))} ({', '.join(sorted({type(c).__name__ for c in choices}))})")


def check_type(value: object, types: type | tuple[type, ...], what: str, hint: str = "") -> None:
    """Raise a TypeError naming the expected type(s) and the type of ``value``."""
    if not isinstance(value, types):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise TypeError(f"{what} must be a {names}, got {type(value).__name__} {_short(value)}{hint}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: object, minimum: int = 1) -> TypeGuard[int]:
    """Whether ``value`` is an int of at least ``minimum``: the package's one test of a count, a side or
    a stride (bools are refused: True is not 1 channel). ``check_int`` raises on it; other checks
    that word their own errors call it too."""
    return not isinstance(value, bool) and isinstance(value, int) and value >= minimum


def check_int(value: object, what: str, minimum: int = 1) -> int:
    """``value`` if it is an int of at least ``minimum`` (``is_int``), else an error naming ``what``."""
    if is_int(value, minimum):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"{what} must be an int >= {minimum}, got {value}")
    raise TypeError(f"{what} must be an int >= {minimum}, got {type(value).__name__} {_short(value)}")


def size_hint(size: object) -> str:
    """The usual mistake behind a wrong (H, W): one int for a square, or a channel count (and a batch)
    in front of the two sides, as in an input shape (3, 224, 224)."""
    if isinstance(size, int) and not isinstance(size, bool):
        return f"; for a square input write ({size}, {size})"
    if (isinstance(size, (tuple, list, torch.Size)) and len(size) in (3, 4)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in size)):
        return (f"; a size is (H, W) without the channels{' and the batch' if len(size) == 4 else ''}: "
                f"write {tuple(size[-2:])}")
    return ""


def check_size(size: object, what: str = "size", minimum: int = 1) -> tuple[int, int]:
    """``size`` as (H, W): two ints of at least ``minimum``; a single int is refused (say (n, n)), and so
    is an input shape with its channels (say (H, W))."""
    if isinstance(size, torch.Size):
        size = tuple(size)
    if isinstance(size, (str, bytes)) or not isinstance(size, Sequence) or len(size) != 2:
        raise TypeError(f"{what} must be two positive ints (H, W), got {type(size).__name__} {_short(size)}"
                        f"{size_hint(size)}")
    h, w = size
    if not all(is_int(v, minimum) for v in (h, w)):
        raise ValueError(f"{what} must be two positive ints (H, W), each at least {minimum}, got {_short(size)}")
    return h, w


def check_input_shape(input_shape: object, what: str = "input_shape") -> tuple[int, int, int]:
    """One sample's shape (C, H, W), without the batch: three positive ints."""
    ok = (isinstance(input_shape, (tuple, list, torch.Size)) and len(input_shape) == 3
          and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in input_shape))
    if not ok or not isinstance(input_shape, (tuple, list, torch.Size)):
        hint = ""
        if isinstance(input_shape, (tuple, list, torch.Size)) and all(
                isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in input_shape):
            n = len(input_shape)
            if n == 4:
                hint = f"; {n} values: drop the batch, write {tuple(input_shape[1:])}"
            elif n == 2:
                c, side = input_shape
                hint = (f"; 2 values: give the channels and both sides, e.g. ({c}, {side}, {side}) for "
                        f"{c} channels of {side}x{side}, or (3, {c}, {side}) for an RGB {c}x{side} input")
            elif n:
                hint = f"; {n} value{'s' if n > 1 else ''}: give the channels and both sides"
        raise ValueError(f"{what} must be (C, H, W) without the batch: three positive ints, e.g. (3, 224, 224); "
                         f"got {_short(input_shape)}{hint}")
    return input_shape[0], input_shape[1], input_shape[2]


def check_name(name: object, what: str = "name") -> str:
    """A dotted module name such as ``"layer3"`` or ``"layer3.0"``: a non-empty str, no empty parts."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"{what} must be a module name: a child name such as 'layer3', or a dotted "
                        f"submodule name such as 'layer3.0'; got {type(name).__name__} {_short(name)}")
    if name.strip() != name or any(not part for part in name.split(".")):
        fixed = ".".join(p for p in name.strip().split(".") if p)
        raise ValueError(
            f"{what} {name!r} is not a module name: no leading, trailing or doubled dots, no spaces; "
            f"did you mean {fixed!r}?"
        )
    return name


def check_names(names: object, what: str = "names") -> list[str]:
    """A list of module names, each checked by ``check_name``; a bare string is refused."""
    if isinstance(names, str):
        raise TypeError(f"{what} must be a list of submodule names, e.g. ['conv1', 'layer1'], got the string {names!r}")
    if not isinstance(names, Iterable):
        raise TypeError(f"{what} must be a list of submodule names, e.g. ['conv1', 'layer1'], "
                        f"got {type(names).__name__} {_short(names)}")
    names = list(names)
    for name in names:
        check_name(name, f"each of {what}")
    return names


def check_pyramid(features: object, channels: Sequence[int], where: str,
                  dtype: torch.dtype | None = None) -> list[torch.Tensor]:
    """The levels of a pyramid, fine to coarse: 4-D tensors of the declared channel counts, one batch
    size, one dtype (``dtype``, the weights', if given), and sides that never grow from one level to
    the next."""
    if isinstance(features, dict):
        raise TypeError(
            f"{where} expects a list of {len(channels)} feature maps, fine to coarse, got a dict with keys "
            f"{list(features)}; pass list(d.values()) (a dict keeps its insertion order: check it is fine to coarse)"
        )
    if isinstance(features, torch.Tensor) or not isinstance(features, Sequence):
        raise TypeError(
            f"{where} expects a list of {len(channels)} feature maps (B, C_i, H_i, W_i), fine to coarse, "
            f"got {type(features).__name__}"
        )
    if len(features) != len(channels):
        raise ValueError(f"{where} expects {len(channels)} feature maps (fine to coarse), got {len(features)}")
    for i, (f, c) in enumerate(zip(features, channels, strict=True)):
        if not isinstance(f, torch.Tensor):
            raise TypeError(f"{where} level {i} must be a torch.Tensor (B, {c}, H, W), got {type(f).__name__}")
        if f.dim() != 4 or f.shape[1] != c:
            raise ValueError(f"{where} level {i} expects (B, {c}, H, W), got shape {tuple(f.shape)}; "
                             f"declared channels, fine to coarse: {list(channels)}")
    first = features[0]
    for i, f in enumerate(features[1:], start=1):
        if f.shape[0] != first.shape[0]:
            raise ValueError(f"{where} levels must share one batch size: level 0 has {first.shape[0]}, "
                             f"level {i} has {f.shape[0]} (shapes {[tuple(t.shape) for t in features]})")
        if f.dtype != first.dtype:
            raise TypeError(f"{where} levels must share one dtype: level 0 is {first.dtype}, level {i} is {f.dtype}")
        previous = features[i - 1]
        if f.shape[2] > previous.shape[2] or f.shape[3] > previous.shape[3]:
            raise ValueError(
                f"{where} expects levels fine to coarse (sides that never grow), but level {i} "
                f"{tuple(f.shape[2:])} is larger than level {i - 1} {tuple(previous.shape[2:])}; "
                f"reverse the list if it is coarse to fine"
            )
    if dtype is not None and first.dtype != dtype and not torch.is_autocast_enabled(first.device.type):
        hint = (f"; convert the maps with [f.to({dtype}) for f in features] (or the FPN with fpn.to({first.dtype}))"
                if first.is_floating_point() else _dtype_hint(first, dtype))
        raise TypeError(f"{where} has {dtype} weights and expects {dtype} feature maps, got {first.dtype} "
                        f"(every level){hint}")
    return list(features)
