"""Counting parameters: the one counter that the chapters, the claims, the benchmark and the
freezing report all use."""

from __future__ import annotations

from torch import nn

__all__ = ["count_params"]


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """The number of parameters of ``module`` (each shared tensor counted once), or of those
    that still require gradients."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
