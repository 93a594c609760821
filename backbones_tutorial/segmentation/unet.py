"""A U-Net-style decoder on any pyramid that declares its levels (``feature_info``).

The decoder starts at the coarsest level and walks up: it upsamples the running map to the
exact size of the next finer level (its measured size, not ``2 x``: a ResNet level of an odd
input is ``ceil(n / r)``, a VGG level ``floor(n / r)``), concatenates that level (the skip
connection) and mixes the two with a conv block. ResNet's finest level is at H/2, so the image
itself is the last skip: a small conv block at full resolution, which is where 1-pixel lines
are decided. Every width is read from ``feature_info``; none is typed in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backbones_tutorial.checks import check_batch, check_pyramid, is_int
from backbones_tutorial.pyramids.levels import Levels

torch.fx.wrap("check_batch")
torch.fx.wrap("check_pyramid")

__all__ = ["UNet", "UNetDecoder", "conv_block"]


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 conv, BatchNorm, ReLU: keeps the spatial size."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNetDecoder(nn.Module):
    """From the pyramid (fine to coarse) and the image to full-resolution class logits.

    The block after level ``i``'s skip outputs a quarter of level ``i``'s channels (at least
    ``image_channels``), which keeps the fine, expensive levels narrow; the image skip has
    ``image_channels``.
    """

    def __init__(self, feature_info: Levels, num_classes: int, in_channels: int = 3, image_channels: int = 16) -> None:
        super().__init__()
        if not isinstance(feature_info, Levels) or len(feature_info) < 2:
            raise ValueError(
                f"UNetDecoder needs the feature_info (Levels) of at least two levels, got {feature_info!r}")
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels),
                            ("image_channels", image_channels)):
            if not is_int(value):
                raise ValueError(f"UNetDecoder: {name} must be a positive int, got {value!r}")
        self.feature_info, self.in_channels = feature_info, in_channels
        below = feature_info[-1].channels
        blocks = []
        for level in reversed(feature_info[:-1]):  # second coarsest to finest
            width = max(image_channels, level.channels // 4)
            blocks.append(conv_block(below + level.channels, width))
            below = width
        self.blocks = nn.ModuleList(blocks)
        self.image = conv_block(in_channels, image_channels)
        self.final = conv_block(below + image_channels, image_channels)
        self.head = nn.Conv2d(image_channels, num_classes, 1)

    def forward(self, image: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        features = check_pyramid(features, self.feature_info.channels, "UNetDecoder")  # as declared
        check_batch(image, self.in_channels, "UNetDecoder (image)")
        if image.shape[0] != features[0].shape[0]:
            raise ValueError(f"UNetDecoder: the image batch has {image.shape[0]} samples, the levels "
                             f"{features[0].shape[0]}; pass the image the levels were computed from")
        x = features[-1]  # (B, C_n, H/r_n, W/r_n), the coarsest level
        for block, skip in zip(self.blocks, reversed(features[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)  # (B, C, H/r_i, W/r_i)
            x = block(torch.cat([x, skip], dim=1))  # (B, C_i / 4, H/r_i, W/r_i)
        x = F.interpolate(x, size=image.shape[-2:], mode="bilinear", align_corners=False)  # (B, C, H, W)
        x = self.final(torch.cat([x, self.image(image)], dim=1))  # (B, image_channels, H, W)
        return self.head(x)  # (B, num_classes, H, W)


class UNet(nn.Module):
    """A backbone that returns its pyramid, and a ``UNetDecoder`` built from its ``feature_info``."""

    def __init__(self, backbone: nn.Module, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        info = getattr(backbone, "feature_info", None)
        if not isinstance(info, Levels):
            raise TypeError(
                f"UNet needs a backbone that declares its levels in feature_info (a Levels), e.g. "
                f"resnet_features(18); {type(backbone).__name__} has feature_info={info!r}"
            )
        self.in_channels = in_channels
        self.backbone = backbone
        self.decoder = UNetDecoder(info, num_classes, in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_batch(x, self.in_channels, "UNet")
        features = self.backbone(x)  # [(B, C_i, H/r_i, W/r_i)], fine to coarse
        return self.decoder(x, features)  # (B, num_classes, H, W)
