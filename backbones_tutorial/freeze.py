"""Freezing layers by name, with BatchNorm handled on purpose.

``requires_grad_(False)`` stops the optimizer, not BatchNorm: in train mode a BN layer still
normalises with the batch's statistics and updates its running mean and variance. A frozen
backbone therefore needs one of:

- ``batchnorm="frozen"``: replace each BN under the frozen names with torchvision's
  ``FrozenBatchNorm2d`` (fixed statistics and affine parameters, buffers only), as
  torchvision's detection models do;
- ``batchnorm="eval"``: keep the BN modules but make them behave as in eval mode even after
  ``model.train()`` (a forward pre-hook resets ``training`` before each call);
- ``batchnorm="train"``: leave BN alone (the pitfall; the book shows its effect).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle
from torchvision.ops import FrozenBatchNorm2d

from .checks import check_choice

BATCHNORM_MODES = ("frozen", "eval", "train")


@dataclass(frozen=True)
class FreezeReport:
    trainable_params: int
    total_params: int
    trainable: tuple[str, ...]  # top-level children with at least one trainable parameter left


def _frozen_copy(bn: nn.BatchNorm2d, name: str) -> FrozenBatchNorm2d:
    """A FrozenBatchNorm2d computing what ``bn`` computes in eval mode, on its device and dtype."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f"cannot freeze {name!r}: it tracks no running statistics (track_running_stats=False)")
    frozen = FrozenBatchNorm2d(bn.num_features, eps=bn.eps).to(bn.running_mean.device)
    if bn.affine:
        frozen.weight.copy_(bn.weight.detach())
        frozen.bias.copy_(bn.bias.detach())
    frozen.running_mean.copy_(bn.running_mean)
    frozen.running_var.copy_(bn.running_var)
    return frozen.to(bn.weight.dtype if bn.affine else bn.running_mean.dtype)


def _keep_eval(module: nn.Module, args: tuple) -> None:
    module.training = False


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """The number of parameters of ``module`` (each shared tensor counted once), or of those
    that still require gradients."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def trainable_report(model: nn.Module) -> FreezeReport:
    total = count_params(model)
    trainable = count_params(model, trainable_only=True)
    names = tuple(n for n, m in model.named_children() if any(p.requires_grad for p in m.parameters()))
    return FreezeReport(trainable, total, names)


def freeze(model: nn.Module, names: Iterable[str], batchnorm: str = "frozen") -> FreezeReport:
    """Freeze the parameters of the named submodules (``"layer1"``, ``"features.0"``...).

    Every name must be a submodule of ``model``; BatchNorm layers under them are handled as
    ``batchnorm`` says (see the module docstring). Returns what is left trainable.
    """
    check_choice(batchnorm, BATCHNORM_MODES, "batchnorm mode")
    modules = dict(model.named_modules())
    names = _check_names(model, names)
    for name in names:
        target = modules[name]
        target.requires_grad_(False)
        if batchnorm == "frozen":
            bns = [(n, m) for n, m in target.named_modules() if isinstance(m, nn.BatchNorm2d)]
            for sub_name, bn in bns:
                full = f"{name}.{sub_name}" if sub_name else name
                parent_name, _, attr = full.rpartition(".")
                setattr(model.get_submodule(parent_name), attr, _frozen_copy(bn, full))
        elif batchnorm == "eval":
            for bn in (m for m in target.modules() if isinstance(m, nn.BatchNorm2d)):
                bn.eval()
                if not hasattr(bn, "_keep_eval_handle"):  # one hook, however often freeze is called
                    handle = bn.register_forward_pre_hook(_keep_eval)
                    bn._keep_eval_handle = handle  # type: ignore[assignment]  # torch's stub: Tensor | Module only
    return trainable_report(model)


def unfreeze(model: nn.Module, names: Iterable[str]) -> FreezeReport:
    """Undo ``freeze`` for the named submodules: parameters trainable again, ``FrozenBatchNorm2d``
    turned back into ``BatchNorm2d`` (same statistics), eval-mode BatchNorm released to follow
    ``model.train()`` again. Returns what is trainable."""
    modules = dict(model.named_modules())
    for name in _check_names(model, names):
        target = modules[name]
        frozen = [(n, m) for n, m in target.named_modules() if isinstance(m, FrozenBatchNorm2d)]
        for sub_name, fbn in frozen:
            full = f"{name}.{sub_name}" if sub_name else name
            parent_name, _, attr = full.rpartition(".")
            setattr(model.get_submodule(parent_name), attr, _batchnorm_copy(fbn).train(model.training))
        target = model.get_submodule(name)  # replaced if it was itself a FrozenBatchNorm2d
        for bn in (m for m in target.modules() if hasattr(m, "_keep_eval_handle")):
            cast(RemovableHandle, bn._keep_eval_handle).remove()
            del bn._keep_eval_handle
            bn.train(model.training)
        target.requires_grad_(True)
    return trainable_report(model)


def _check_names(model: nn.Module, names: Iterable[str]) -> list[str]:
    """The names as a list, each checked to be a submodule of ``model``."""
    if isinstance(names, str):
        raise TypeError(f"names must be a list of submodule names, e.g. ['conv1', 'layer1'], got the string {names!r}")
    modules = dict(model.named_modules())
    names = list(names)
    for name in names:
        if name not in modules or name == "":
            top = [n for n, _ in model.named_children()]
            nested = next((n for n in modules if n.count(".") == 1), None)
            hint = f" (dotted names such as {nested!r} reach nested modules)" if nested else ""
            raise ValueError(
                f"unknown submodule {name!r} of {type(model).__name__}; top-level children are "
                f"{', '.join(map(repr, top))}{hint}"
            )
    return names


def _batchnorm_copy(frozen: FrozenBatchNorm2d) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(frozen.weight.numel(), eps=frozen.eps).to(frozen.weight.device, frozen.weight.dtype)
    assert bn.running_mean is not None and bn.running_var is not None  # track_running_stats defaults to True
    with torch.no_grad():
        bn.weight.copy_(frozen.weight)
        bn.bias.copy_(frozen.bias)
        bn.running_mean.copy_(frozen.running_mean)
        bn.running_var.copy_(frozen.running_var)
    return bn
