"""Every model the package can build, in one table: the claims record, the shape predictor, the
``shapes`` command, the figures and the tests all read it.

Each entry builds a fresh, randomly initialised model (shapes and counts do not depend on the
weights); ``predictable`` marks the architectures whose shapes ``predict.predict_shapes`` can
compute for any input size, which are the ones the ``shapes`` command offers. Their names live
in ``predictable.py``, which imports no torch, so the command line's ``--help`` can list them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torchvision
from torch import nn

from . import blocks
from .checks import check_choice
from .extract import truncate
from .fpn import resnet50_fpn
from .predictable import PREDICTABLE
from .pyramid import resnet_features
from .resnet import RESNETS
from .zoo import resnet34_to_layer3, vgg16_blocks

# Chapter 7: the smallest member of each modern family, as backbone() builds its pyramid.
MODERN_PYRAMIDS = ("convnext_tiny", "efficientnet_b0", "mobilenet_v3_small", "regnet_x_400mf", "swin_t", "vit_b_16")


def _pyramid(name: str) -> nn.Module:
    from .backbones import backbone

    return backbone(name)


def _unet(backbone: str) -> nn.Module:
    """Chapter 8's U-Net, with as many classes as the synthetic task, on ``backbone``."""
    from . import segment, synthetic
    from .unet import UNet

    body = vgg16_blocks() if backbone == "vgg16_blocks" else segment.segmentation_backbone(backbone)
    return UNet(body, num_classes=len(synthetic.CLASSES))


@dataclass(frozen=True)
class Entry:
    name: str
    build: Callable[[], nn.Module]
    kind: str  # "block", "classifier", "extractor" or "segmenter"

    @property
    def predictable(self) -> bool:
        """Whether ``predict.predict_shapes`` computes this model's shapes for any input size."""
        return self.name in PREDICTABLE


KINDS = ("block", "classifier", "extractor", "segmenter")

MODELS: dict[str, Entry] = {
    e.name: e
    for e in (
        # Chapter 1: residual blocks on a layer1-sized input (64 channels).
        Entry("basic_block_identity", lambda: blocks.BasicBlock(64, 64), "block"),
        Entry("basic_block_projection",
              lambda: blocks.BasicBlock(64, 128, stride=2, downsample=blocks.projection(64, 128, 2)), "block"),
        Entry("bottleneck_identity", lambda: blocks.Bottleneck(256, 64), "block"),  # layer1's second block in ResNet50
        Entry("bottleneck_projection",
              lambda: blocks.Bottleneck(64, 64, downsample=blocks.projection(64, 256, 1)), "block"),
        # Chapter 2: the from-scratch ResNets; Chapter 3: VGG16 and a cut.
        *(Entry(f"resnet{d}", factory, "classifier") for d, factory in RESNETS.items()),
        Entry("vgg16", lambda: torchvision.models.vgg16(weights=None), "classifier"),
        Entry("resnet18_to_layer4", lambda: truncate(torchvision.models.resnet18(weights=None), "layer4"), "extractor"),
        # Chapters 4 and 5: pyramids, the FPN and the zoo.
        Entry("resnet18_features", lambda: resnet_features(18), "extractor"),
        Entry("resnet50_features", lambda: resnet_features(50), "extractor"),
        Entry("resnet50_fpn", resnet50_fpn, "extractor"),
        Entry("vgg16_blocks", vgg16_blocks, "extractor"),
        Entry("resnet34_to_layer3", resnet34_to_layer3, "extractor"),
        # Chapter 7: pyramids of the modern families (``backbones.backbone``), head kept in ``body``.
        *(Entry(f"{n}_pyramid", functools.partial(_pyramid, n), "extractor") for n in MODERN_PYRAMIDS),
        # Chapter 8: the U-Net on the trained backbone (classifier removed) and on VGG16's blocks.
        Entry("unet_resnet18", functools.partial(_unet, "resnet18"), "segmenter"),
        Entry("unet_vgg16_blocks", functools.partial(_unet, "vgg16_blocks"), "segmenter"),
    )
}


def build(name: str) -> nn.Module:
    """A fresh, randomly initialised instance of the registered model ``name``."""
    check_choice(name, MODELS, "model")
    return MODELS[name].build()
