"""Freezing layers by name, with BatchNorm handled on purpose.

``requires_grad_(False)`` stops the optimizer, not BatchNorm: in train mode a BN layer still
normalises with the batch's statistics and updates its running mean and variance. A frozen
backbone therefore needs one of:

- ``batchnorm="frozen"``: replace each BN under the frozen names with torchvision's
  ``FrozenBatchNorm2d`` (fixed statistics and affine parameters, buffers only), as
  torchvision's detection models do;
- ``batchnorm="eval"``: keep the BN modules (of any kind: 1d, 2d, 3d, SyncBatchNorm) but make
  them behave as in eval mode even after ``model.train()`` (a forward pre-hook resets
  ``training`` before each call);
- ``batchnorm="train"``: leave BN alone (the pitfall; the book shows its effect).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.hooks import RemovableHandle
from torchvision.ops import FrozenBatchNorm2d

from backbones_tutorial.checks import check_choice, check_names, check_type
from backbones_tutorial.extractors.freeze_modes import BATCHNORM_MODES
from backbones_tutorial.params import count_params

__all__ = ["FREEZABLE", "FreezeReport", "freeze", "trainable_report", "unfreeze"]



@dataclass(frozen=True)
class FreezeReport:
    trainable_params: int
    total_params: int
    trainable: tuple[str, ...]  # top-level children with at least one trainable parameter left


FREEZABLE = (nn.BatchNorm2d, nn.SyncBatchNorm)  # what FrozenBatchNorm2d (for 4-D inputs) can stand in for


def _frozen_copy(bn: nn.BatchNorm2d | nn.SyncBatchNorm) -> FrozenBatchNorm2d:
    """A FrozenBatchNorm2d computing what ``bn`` computes in eval mode, on its device and dtype; it
    remembers ``bn``'s class, momentum and batch count, which ``unfreeze`` gives back."""
    assert bn.running_mean is not None and bn.running_var is not None  # checked by _check_batchnorms
    frozen = FrozenBatchNorm2d(bn.num_features, eps=bn.eps).to(bn.running_mean.device)
    if bn.affine:
        frozen.weight.copy_(bn.weight.detach())
        frozen.bias.copy_(bn.bias.detach())
    frozen.running_mean.copy_(bn.running_mean)
    frozen.running_var.copy_(bn.running_var)
    frozen.unfrozen = {  # a plain attribute, not in the state dict
        "cls": type(bn), "momentum": bn.momentum, "affine": bn.affine,
        "num_batches_tracked": None if bn.num_batches_tracked is None else bn.num_batches_tracked.clone(),
    }
    return frozen.to(bn.weight.dtype if bn.affine else bn.running_mean.dtype)


def _check_batchnorms(model: nn.Module, names: list[str], batchnorm: str) -> list[tuple[str, nn.Module]]:
    """Every BatchNorm under ``names`` (full names), each checked to be one ``batchnorm`` can handle."""
    found: dict[str, nn.Module] = {}
    for name in names:
        for sub_name, m in model.get_submodule(name).named_modules():
            if isinstance(m, _BatchNorm):
                found[f"{name}.{sub_name}" if sub_name else name] = m
    if batchnorm == "frozen":
        for full, bn in found.items():
            if not isinstance(bn, FREEZABLE):
                raise ValueError(
                    f"cannot freeze {full!r} with batchnorm='frozen': it is a {type(bn).__name__}, and "
                    f"FrozenBatchNorm2d stands in only for BatchNorm2d and SyncBatchNorm (4-D inputs); "
                    f"use batchnorm='eval' for this model"
                )
            if bn.running_mean is None or bn.running_var is None:
                raise ValueError(f"cannot freeze {full!r}: it tracks no running statistics "
                                 f"(track_running_stats=False); use batchnorm='train' or 'eval'")
    return list(found.items())


def _keep_eval(module: nn.Module, args: tuple) -> None:
    module.training = False


def trainable_report(model: nn.Module) -> FreezeReport:
    total = count_params(model)
    trainable = count_params(model, trainable_only=True)
    names = tuple(n for n, m in model.named_children() if any(p.requires_grad for p in m.parameters()))
    return FreezeReport(trainable, total, names)


def freeze(model: nn.Module, names: Iterable[str], batchnorm: str = "frozen") -> FreezeReport:
    """Freeze the parameters of the named submodules (``"layer1"``, ``"features.0"``...).

    Every name must be a submodule of ``model``; BatchNorm layers under them are handled as
    ``batchnorm`` says (see the module docstring). Everything is checked before the model is
    changed, so a refusal leaves it as it was. Returns what is left trainable.
    """
    check_choice(batchnorm, BATCHNORM_MODES, "batchnorm mode")
    names = _check_names(model, names)
    bns = _check_batchnorms(model, names, batchnorm)
    for name in names:
        model.get_submodule(name).requires_grad_(False)
    for full, bn in bns:
        if batchnorm == "frozen":
            parent_name, _, attr = full.rpartition(".")
            setattr(model.get_submodule(parent_name), attr, _frozen_copy(bn))  # type: ignore[arg-type]
        elif batchnorm == "eval":
            bn.eval()
            if not hasattr(bn, "_keep_eval_handle"):  # one hook, however often freeze is called
                handle = bn.register_forward_pre_hook(_keep_eval)
                bn._keep_eval_handle = handle  # type: ignore[assignment]  # torch's stub: Tensor | Module only
    return trainable_report(model)


def unfreeze(model: nn.Module, names: Iterable[str]) -> FreezeReport:
    """Undo ``freeze`` for the named submodules: parameters trainable again, ``FrozenBatchNorm2d``
    turned back into the BatchNorm it replaced (same statistics, momentum and batch count),
    eval-mode BatchNorm released to follow ``model.train()`` again. Returns what is trainable."""
    names = _check_names(model, names)
    for name in names:
        target = model.get_submodule(name)
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
    """The names as a non-empty list, each checked to be a submodule of ``model``."""
    check_type(model, nn.Module, "model")
    names = check_names(names)
    if not names:
        raise ValueError("names is empty: name at least one submodule, e.g. ['conv1', 'layer1'] "
                         "or up_to(model, 'layer2')")
    modules = dict(model.named_modules())
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


def _batchnorm_copy(frozen: FrozenBatchNorm2d) -> nn.Module:
    """The BatchNorm that ``frozen`` replaced (its class, momentum and batch count), with the frozen
    statistics; for a FrozenBatchNorm2d that freeze did not make, a BatchNorm2d with torch's defaults."""
    was = getattr(frozen, "unfrozen", {"cls": nn.BatchNorm2d, "momentum": 0.1, "affine": True,
                                        "num_batches_tracked": None})
    bn = was["cls"](frozen.weight.numel(), eps=frozen.eps, momentum=was["momentum"], affine=was["affine"])
    bn = bn.to(frozen.weight.device, frozen.weight.dtype)
    with torch.no_grad():
        if was["affine"]:
            bn.weight.copy_(frozen.weight)
            bn.bias.copy_(frozen.bias)
        bn.running_mean.copy_(frozen.running_mean)
        bn.running_var.copy_(frozen.running_var)
        if was["num_batches_tracked"] is not None:
            bn.num_batches_tracked.copy_(was["num_batches_tracked"])
    return bn
