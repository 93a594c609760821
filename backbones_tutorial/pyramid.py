"""A feature pyramid from torchvision's ResNet, in two styles, each declaring what it returns.

- ``ResNetFeatures`` subclasses torchvision's ``ResNet`` and overrides ``forward``: the
  torchvision state dict loads into it strictly (it still owns ``avgpool`` and ``fc``).
- ``ResNetBackbone`` keeps a torchvision ResNet inside and calls its layers in order.

Both return ``[stem, layer1, layer2, layer3, layer4]`` and carry ``feature_info``: the name,
channel count and reduction (stride) of each level, read from the modules themselves, so that
downstream code (the FPN, the extractors) never hard-codes 64/128/256/512 or 256/.../2048.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from .checks import check_batch, check_choice

torch.fx.wrap("check_batch")

LEVELS = ("stem", "layer1", "layer2", "layer3", "layer4")


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    channels: int
    reduction: int  # input size / feature size, e.g. 4 for H/4


def _stride(module: nn.Module) -> int:
    s = module.stride
    return s[0] if isinstance(s, tuple) else s


def resnet_feature_info(model: torchvision.models.ResNet) -> list[FeatureInfo]:
    """Channels and reduction of each pyramid level, read from the model's modules."""
    info = [FeatureInfo("stem", model.conv1.out_channels, _stride(model.conv1))]
    reduction = info[0].reduction * _stride(model.maxpool)
    for name in LEVELS[1:]:
        layer = getattr(model, name)
        first, last = layer[0], layer[-1]
        reduction *= first.stride  # only a stage's first block may subsample
        out = last.bn3 if isinstance(last, Bottleneck) else last.bn2
        info.append(FeatureInfo(name, out.num_features, reduction))
    return info


class ResNetFeatures(torchvision.models.ResNet):
    """torchvision's ResNet whose forward returns the pyramid instead of class scores."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.feature_info = resnet_feature_info(self)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_batch(x, self.conv1.in_channels, "ResNetFeatures")
        stem = self.relu(self.bn1(self.conv1(x)))  # (B, 64, H/2, W/2)
        c2 = self.layer1(self.maxpool(stem))  # (B, 64*e, H/4, W/4)
        c3 = self.layer2(c2)  # (B, 128*e, H/8, W/8)
        c4 = self.layer3(c3)  # (B, 256*e, H/16, W/16)
        c5 = self.layer4(c4)  # (B, 512*e, H/32, W/32)
        return [stem, c2, c3, c4, c5]


# Blocks per stage, as in torchvision's factories.
RESNET_LAYERS = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}


def resnet_features(depth: int, **kwargs) -> ResNetFeatures:
    """A randomly initialised ``ResNetFeatures``; load torchvision weights with ``load_state_dict``."""
    check_choice(depth, RESNET_LAYERS, "ResNet depth")
    block, layers = RESNET_LAYERS[depth]
    return ResNetFeatures(block, layers, **kwargs)


class ResNetBackbone(nn.Module):
    """Keep a torchvision ResNet and call its layers in order, returning the pyramid."""

    def __init__(self, resnet: torchvision.models.ResNet) -> None:
        super().__init__()
        if not isinstance(resnet, torchvision.models.ResNet):
            raise TypeError(f"ResNetBackbone expects a torchvision.models.ResNet, got {type(resnet).__name__}")
        self.body = resnet
        self.feature_info = resnet_feature_info(resnet)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        r = self.body
        check_batch(x, r.conv1.in_channels, "ResNetBackbone")
        stem = r.relu(r.bn1(r.conv1(x)))  # (B, 64, H/2, W/2)
        c2 = r.layer1(r.maxpool(stem))  # (B, 64*e, H/4, W/4)
        c3 = r.layer2(c2)  # (B, 128*e, H/8, W/8)
        c4 = r.layer3(c3)  # (B, 256*e, H/16, W/16)
        c5 = r.layer4(c4)  # (B, 512*e, H/32, W/32)
        return [stem, c2, c3, c4, c5]
