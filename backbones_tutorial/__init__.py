"""Companion package of the book "CNN backbones in PyTorch".

The package is laid out as the book is (each subpackage's docstring lists its modules):

- ``models``: the residual blocks and ResNet, built from scratch (chapters 1-2);
- ``pyramids``: level metadata (``levels``), the ResNet pyramids, ``backbone()`` for every modern
  torchvision family (output stride 16 and 8 included), the ViT simple pyramid, the FPN and the
  input-size contract (chapters 4, 7);
- ``extractors``: cutting by children, the six extraction methods, the zoo, freezing (chapters 3, 5, 6);
- ``shapes``: the claims record, measuring with torchinfo, predicting shapes (every chapter);
- ``bench``: the benchmark and the compatibility matrix (chapter 6);
- ``segmentation``: the synthetic task, the U-Net, training and the freezing study (chapter 8), the
  DeepLab head (chapter 7);
- ``viz``: the figures.

At the root: ``checks`` (argument checks), ``display`` (what chapters print), ``params`` (the
parameter counter), ``registry`` (every model the package builds), ``data`` and ``weights``.

The names below are imported when first used (PEP 562), so that ``import backbones_tutorial``
and ``python -m backbones_tutorial --help`` do not import torch.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil

try:
    __version__ = importlib.metadata.version("backbones-tutorial")
except importlib.metadata.PackageNotFoundError:  # a source checkout on PYTHONPATH, not pip-installed
    __version__ = "0.0.0+source"

# Each public name and the module that defines it.
_EXPORTS = {
    **dict.fromkeys(("BasicBlock", "Bottleneck", "conv1x1", "conv3x3", "projection"), "models.blocks"),
    **dict.fromkeys(("ResNet", "resnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"),
                    "models.resnet"),
    **dict.fromkeys(("FeatureInfo", "Levels", "level_size"), "pyramids.levels"),
    **dict.fromkeys(("ResNetFeatures", "ResNetBackbone", "resnet_features"), "pyramids.resnet"),
    **dict.fromkeys(("FPN", "ResNetFPN", "PyramidFPN", "resnet50_fpn"), "pyramids.fpn"),
    "backbone": "pyramids.backbone",
    **dict.fromkeys(("contract", "pad_to_multiple"), "pyramids.contract"),
    "truncate": "extractors.cut",
    **dict.fromkeys(("freeze", "unfreeze"), "extractors.freeze"),
    "count_params": "params",
    "predict_shapes": "shapes.predict",
    **dict.fromkeys(("check_claim", "claims_table", "find_claim", "measure"), "shapes.measure"),
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> object:
    """Import a public name's module on first use; subpackages and modules (``viz``, ``bench``) likewise."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value  # later lookups find it without calling __getattr__
        return value
    if name in {m.name for m in pkgutil.iter_modules(__path__)}:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
