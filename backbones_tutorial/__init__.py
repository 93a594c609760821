"""Companion package of the book "CNN backbones in PyTorch".

The names below are imported when first used (PEP 562), so that ``import backbones_tutorial``
and ``python -m backbones_tutorial --help`` do not import torch; ``from backbones_tutorial
import resnet50`` works as usual.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import sys
import types

__version__ = importlib.metadata.version("backbones-tutorial")

# Each public name and the module that defines it (or re-exports it, for FeatureInfo).
_EXPORTS = {
    **dict.fromkeys(("BasicBlock", "Bottleneck", "conv1x1", "conv3x3", "projection"), "blocks"),
    **dict.fromkeys(("ResNet", "resnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"), "resnet"),
    "truncate": "extract",
    **dict.fromkeys(("FeatureInfo", "ResNetFeatures", "ResNetBackbone", "resnet_features"), "pyramid"),
    **dict.fromkeys(("FPN", "ResNetFPN", "resnet50_fpn"), "fpn"),
    **dict.fromkeys(("freeze", "unfreeze"), "freeze"),
    "predict_shapes": "predict",
    **dict.fromkeys(("check_claim", "claims_table", "find_claim", "measure"), "measure_claims"),
    # Issue 12: pyramids of the modern torchvision backbones and their input-size contract.
    "backbone": "backbones",
    **dict.fromkeys(("contract", "pad_to_multiple"), "contract"),
    "PyramidFPN": "fpn",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> object:
    """Import a public name's module on first use; submodules (``viz``, ``bench``) likewise."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later lookups find it without calling __getattr__
        return value
    if name in {m.name for m in pkgutil.iter_modules(__path__)}:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package's module type. Python binds each submodule on its package once the submodule
    has run; where a public function has its module's name (``resnet``, ``freeze``), the function
    keeps the name, as it did when this file imported everything eagerly."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and name in _EXPORTS:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
