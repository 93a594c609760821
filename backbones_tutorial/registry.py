"""Every model the package can build, in one table: the claims record, the shape predictor, the
``shapes`` command, ``backbone()``, the figures and the tests all read it.

The table imports no torch: each entry names its builder as ``"module:function"``, imported when
the model is built, so that ``python -m backbones_tutorial --help`` lists the names at once.
Each entry builds a fresh, randomly initialised model (shapes and counts do not depend on the
weights); ``predictable`` marks the architectures whose shapes ``shapes.predict.predict_shapes``
computes for any input size, the ones the ``shapes`` command predicts stage by stage.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

__all__ = ["DEPLOY_MODELS", "DEPLOY_TOOLS", "Entry", "MODELS", "MODERN_PYRAMIDS", "PREDICTABLE", "PYRAMIDS",
           "SEGMENTATION_BACKBONES", "SHAPES_CHOICES", "build"]

# The torchvision builders that ``backbone()`` turns into a feature pyramid (by name, weights=None).
PYRAMIDS: tuple[str, ...] = (
    *(f"resnet{d}" for d in (18, 34, 50, 101, 152)),
    "vgg16",
    *(f"convnext_{s}" for s in ("tiny", "small", "base", "large")),
    *(f"efficientnet_b{i}" for i in range(8)),
    *(f"efficientnet_v2_{s}" for s in ("s", "m", "l")),
    "mobilenet_v3_large", "mobilenet_v3_small",
    *(f"regnet_x_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    *(f"regnet_y_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")),
    "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b",
    "vit_b_16",
)
# Chapter 7: a small member of each modern family (the smallest but for RegNet: regnet_x_400mf, not y), as
# backbone() builds its pyramid.
MODERN_PYRAMIDS = ("convnext_tiny", "efficientnet_b0", "mobilenet_v3_small", "regnet_x_400mf", "swin_t", "vit_b_16")
# The deployment matrix (``bench.deploy``, the ``deploy`` command): per family of ``backbone()``, the
# model chapter 7 shows, the member with the fewest parameters (VGG16 is the only VGG it names)
# except RegNet, where the RegNetX model (5.5 M, no squeeze-excitation) is shown and regnet_y_400mf
# (4.3 M) is smaller; and the tools, a subset of ``bench.compat.TOOLS`` (plain strings here so
# that ``deploy --help`` lists them without torch).
DEPLOY_MODELS: dict[str, str] = dict(zip(
    ("ResNet", "VGG", "ConvNeXt", "EfficientNet", "MobileNetV3", "RegNet", "SwinTransformer", "VisionTransformer"),
    ("resnet18", "vgg16", *MODERN_PYRAMIDS), strict=True))
DEPLOY_TOOLS = ("eager", "compile", "compile fullgraph", "export", "onnx", "deepcopy + EMA", "channels_last + bf16")


@dataclass(frozen=True)
class Entry:
    """A registered model: its name, its builder (``"module:function"``, called with ``kwargs``)
    and whether ``predict_shapes`` computes its shapes for any input size."""

    name: str
    builder: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    predictable: bool = False

    def build(self) -> nn.Module:
        module, _, function = self.builder.partition(":")
        return getattr(importlib.import_module(module), function)(**self.kwargs)


_BLOCK = "backbones_tutorial.models.blocks:residual_block"
MODELS: dict[str, Entry] = {
    e.name: e
    for e in (
        # Chapter 1: residual blocks on a layer1-sized input (64 channels), as in ResNet50's layer1.
        Entry("basic_block_identity", _BLOCK, {"kind": "basic", "inplanes": 64, "planes": 64}),
        Entry("basic_block_projection", _BLOCK, {"kind": "basic", "inplanes": 64, "planes": 128, "stride": 2}),
        Entry("bottleneck_identity", _BLOCK, {"kind": "bottleneck", "inplanes": 256, "planes": 64}),  # layer1.1
        Entry("bottleneck_projection", _BLOCK, {"kind": "bottleneck", "inplanes": 64, "planes": 64}),  # layer1.0
        # Chapter 2: the from-scratch ResNets; Chapter 3: VGG16 and a cut.
        *(Entry(f"resnet{d}", f"backbones_tutorial.models.resnet:resnet{d}", predictable=True)
          for d in (18, 34, 50, 101, 152)),
        Entry("vgg16", "torchvision.models:vgg16", {"weights": None}, predictable=True),
        Entry("resnet18_to_layer4", "backbones_tutorial.extractors.zoo:cut_torchvision",
              {"name": "resnet18", "last": "layer4"}),
        # Chapters 4 and 5: pyramids, the FPN and the zoo.
        Entry("resnet18_features", "backbones_tutorial.pyramids.resnet:resnet_features", {"depth": 18}),
        Entry("resnet34_features", "backbones_tutorial.pyramids.resnet:resnet_features", {"depth": 34}),
        Entry("resnet50_features", "backbones_tutorial.pyramids.resnet:resnet_features", {"depth": 50}),
        Entry("resnet50_fpn", "backbones_tutorial.pyramids.fpn:resnet50_fpn"),
        Entry("vgg16_blocks", "backbones_tutorial.extractors.zoo:vgg16_blocks"),
        Entry("resnet34_to_layer3", "backbones_tutorial.extractors.zoo:resnet34_to_layer3"),
        # Chapter 7: pyramids of the modern families (``pyramids.backbone``), head kept in ``body``.
        *(Entry(f"{n}_pyramid", "backbones_tutorial.pyramids.backbone:backbone", {"model_or_name": n})
          for n in MODERN_PYRAMIDS),
        # Chapter 8: the U-Net on the trained backbone (its classifier removed) and on VGG16's blocks.
        Entry("unet_resnet18", "backbones_tutorial.segmentation.training:segmentation_unet", {"backbone": "resnet18"}),
        Entry("unet_vgg16_blocks", "backbones_tutorial.segmentation.training:segmentation_unet",
              {"backbone": "vgg16_blocks"}),
        # Output stride: the deeper stages dilated instead of strided, and a DeepLab head on them.
        Entry("resnet18_os8_pyramid", "backbones_tutorial.pyramids.backbone:backbone",
              {"model_or_name": "resnet18", "output_stride": 8}),
        Entry("mobilenet_v3_large_os16_pyramid", "backbones_tutorial.pyramids.backbone:backbone",
              {"model_or_name": "mobilenet_v3_large", "output_stride": 16}),
        Entry("resnet18_os8_deeplab", "backbones_tutorial.segmentation.deeplab:deeplab",
              {"name": "resnet18", "output_stride": 8, "num_classes": 21}),
    )
}
# The backbones of the segmentation commands (chapter 8): the command's name, and the registered pyramid.
SEGMENTATION_BACKBONES = {"resnet18": "resnet18_features", "resnet34": "resnet34_features"}
PREDICTABLE: tuple[str, ...] = tuple(n for n, e in MODELS.items() if e.predictable)
# The ``shapes`` command's choices: the predictable models, then the other pyramids (their contract).
SHAPES_CHOICES: tuple[str, ...] = (*PREDICTABLE, *(n for n in PYRAMIDS if n not in PREDICTABLE))


def build(name: str) -> nn.Module:
    """A fresh, randomly initialised instance of the registered model ``name``."""
    from backbones_tutorial.checks import check_choice  # checks imports torch; the table above does not

    check_choice(name, MODELS, "model")
    return MODELS[name].build()
