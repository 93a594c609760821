# mypy: disable-error-code="index, union-attr"
# (mypy cannot see that VGG16Blocks.block1 is a Sequential of convs; TorchScript, which compiles
# forward, would read a ``# type: ignore`` comment on that line as a type annotation)
"""A zoo of feature extractors over torchvision models, each declaring its levels.

- ``VGG16Blocks``: VGG16's ``features`` cut after each of its five max-pools (found in the
  module, not typed as indices), returning the five block outputs.
- ``resnet34_to_layer3``: ResNet34 truncated after ``layer3`` (one output, stride 16).
- ``resnet50_fpn`` (from ``fpn``): P2..P5 of a ResNet50-FPN.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from backbones_tutorial.checks import check_batch, check_type
from backbones_tutorial.extractors.cut import truncate
from backbones_tutorial.models.resnet import resnet_feature_info
from backbones_tutorial.pyramids.levels import FeatureInfo, Levels

torch.fx.wrap("check_batch")

__all__ = ["VGG16Blocks", "cut_torchvision", "maxpool_indices", "resnet34_to_layer3", "vgg16_blocks"]


def maxpool_indices(features: nn.Sequential) -> list[int]:
    """Positions of the ``nn.MaxPool2d`` layers in a VGG ``features`` Sequential."""
    check_type(features, nn.Sequential, "features", " (a VGG's features, e.g. vgg.features)")
    return [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]


class VGG16Blocks(nn.Module):
    """VGG's five conv blocks, each ending with its max-pool: strides 2, 4, 8, 16, 32."""

    def __init__(self, vgg: torchvision.models.VGG) -> None:
        super().__init__()
        if not isinstance(vgg, torchvision.models.VGG):
            raise TypeError(f"VGG16Blocks expects a torchvision.models.VGG, got {type(vgg).__name__}")
        cuts = maxpool_indices(vgg.features)
        starts = [0] + [i + 1 for i in cuts[:-1]]
        levels = []
        reduction = 1
        for i, (a, b) in enumerate(zip(starts, cuts, strict=True), start=1):
            block = vgg.features[a : b + 1]  # conv/ReLU pairs, then the max-pool
            self.add_module(f"block{i}", block)
            reduction *= block[-1].stride
            channels = [m.out_channels for m in block if isinstance(m, nn.Conv2d)][-1]
            levels.append(FeatureInfo(f"block{i}", channels, reduction, rounding="floor"))  # unpadded 2x2 pools
        self.feature_info = Levels(levels)
        self.in_channels: int = vgg.features[0].in_channels
        self.min_side: int = levels[-1].reduction  # each unpadded pool floors: a smaller side ends empty

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_batch(x, self.in_channels, "VGG16Blocks", self.block1[0].weight.dtype, self.min_side)
        outputs = []
        for block in self.children():
            x = block(x)  # (B, C_i, H/2^i, W/2^i)
            outputs.append(x)
        return outputs


def vgg16_blocks() -> VGG16Blocks:
    """Randomly initialised VGG16 blocks; the classifier, most of VGG16's parameters, is dropped."""
    return VGG16Blocks(torchvision.models.vgg16(weights=None))


def cut_torchvision(name: str, last: str) -> nn.Sequential:
    """torchvision's model ``name`` (``weights=None``) cut after its child ``last``."""
    return truncate(torchvision.models.get_model(name, weights=None), last)


def resnet34_to_layer3() -> nn.Sequential:
    """ResNet34 cut after ``layer3``: (B, 256, H/16, W/16)."""
    model = torchvision.models.resnet34(weights=None)
    cut = truncate(model, "layer3")
    cut.feature_info = resnet_feature_info(model).select(["layer3"])  # type: ignore[assignment]  # torch's stub
    return cut
