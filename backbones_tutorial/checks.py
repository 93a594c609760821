"""Argument checks shared by the package: fail early, say what was expected."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def check_batch(x: torch.Tensor, channels: int, where: str) -> None:
    """Raise if ``x`` is not a (B, channels, H, W) tensor.

    Modules that call it from ``forward`` register it with ``torch.fx.wrap("check_batch")`` so
    that symbolic tracing records the call instead of branching on a Proxy.
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
        raise ValueError(
            f"{where} expects {channels} input channels (B, {channels}, H, W), got {x.shape[1]} "
            f"in shape {list(x.shape)}"
        )


def check_choice(value: object, choices: Iterable[object], what: str) -> None:
    """Raise a ValueError naming the valid choices if ``value`` is not one of them."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid choices: {', '.join(map(repr, choices))}")
