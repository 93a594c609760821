"""A DeepLabv3-style segmenter on a dilated pyramid: ASPP on the coarsest level, upsampled to the input.

DeepLabv3 (Chen et al. 2017, "Rethinking Atrous Convolution for Semantic Image Segmentation")
keeps the backbone at output stride 16 or 8 by dilating its last stages (``backbone(...,
output_stride=8)``) and reads the coarsest map with *atrous spatial pyramid pooling*: a 1x1 conv,
three 3x3 convs dilated 6, 12 and 18 at output stride 16 (twice that at 8, section 3.3), and
the image's mean, concatenated and projected. The head's attribute names are torchvision's
(``torchvision.models.segmentation.deeplabv3.DeepLabHead``), so its state dict loads into ours
strictly and the two compute the same function (tests/test_deeplab.py).

The logits before upsampling have the coarsest level's size, which the size rule gives:
``pyramid.feature_info.sizes(H, W)[-1]`` (``DeepLab.coarse_size``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from backbones_tutorial.checks import check_int
from backbones_tutorial.pyramids.backbone import backbone
from backbones_tutorial.pyramids.levels import Levels

__all__ = ["ASPP", "DEFAULT_RATES", "DeepLab", "DeepLabHead", "deeplab"]

# DeepLabv3, section 3.3: rates (6, 12, 18) at output stride 16, doubled at output stride 8.
DEFAULT_RATES = {16: (6, 12, 18), 8: (12, 24, 36)}


def _conv_bn_relu(c_in: int, c_out: int, kernel: int = 1, dilation: int = 1) -> list[nn.Module]:
    padding = (kernel - 1) // 2 * dilation  # keeps the side
    return [nn.Conv2d(c_in, c_out, kernel, padding=padding, dilation=dilation, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU()]


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: parallel branches that see the map at several dilations, and
    its mean; each keeps the side, so the output has the input's H and W."""

    def __init__(self, in_channels: int, atrous_rates: Sequence[int], out_channels: int = 256) -> None:
        super().__init__()
        branches = [nn.Sequential(*_conv_bn_relu(in_channels, out_channels))]
        branches += [nn.Sequential(*_conv_bn_relu(in_channels, out_channels, 3, r)) for r in atrous_rates]
        branches.append(nn.Sequential(nn.AdaptiveAvgPool2d(1), *_conv_bn_relu(in_channels, out_channels)))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(*_conv_bn_relu(len(branches) * out_channels, out_channels), nn.Dropout(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [conv(x) for conv in self.convs[:-1]]  # each (B, out, h, w)
        pooled = self.convs[-1](x)  # (B, out, 1, 1)
        outs.append(F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False))  # (B, out, h, w)
        return self.project(torch.cat(outs, dim=1))  # (B, out, h, w)


class DeepLabHead(nn.Sequential):
    """ASPP, a 3x3 conv and a 1x1 classifier: class logits at the input map's size."""

    def __init__(self, in_channels: int, num_classes: int, atrous_rates: Sequence[int] = DEFAULT_RATES[8],
                 channels: int = 256) -> None:
        super().__init__(ASPP(in_channels, atrous_rates, channels), *_conv_bn_relu(channels, channels, 3),
                         nn.Conv2d(channels, num_classes, 1))


class DeepLab(nn.Module):
    """A pyramid (its coarsest level) and a ``DeepLabHead``; logits upsampled to the input's size.

    ``atrous_rates`` default to DeepLabv3's for the pyramid's output stride (16 or 8); at another
    output stride they must be given."""

    def __init__(self, pyramid: nn.Module, num_classes: int, atrous_rates: Sequence[int] | None = None,
                 channels: int = 256) -> None:
        super().__init__()
        info = getattr(pyramid, "feature_info", None)
        if not isinstance(pyramid, nn.Module) or not isinstance(info, Levels) or not info:
            raise TypeError(f"DeepLab needs a pyramid whose feature_info declares its levels, e.g. "
                            f"backbone('resnet18', output_stride=8); got {type(pyramid).__name__}")
        check_int(num_classes, "num_classes")
        check_int(channels, "channels")
        stride = info.reductions[-1]
        if atrous_rates is None:
            if stride not in DEFAULT_RATES:
                raise ValueError(f"DeepLab has default atrous rates for output stride 16 or 8, got a pyramid of "
                                 f"output stride {stride}: build it with backbone(..., output_stride=8) or pass "
                                 f"atrous_rates")
            atrous_rates = DEFAULT_RATES[stride]
        if isinstance(atrous_rates, (str, bytes)) or not isinstance(atrous_rates, Sequence) or not atrous_rates:
            raise TypeError(f"atrous_rates must be a sequence of positive ints, e.g. (12, 24, 36); "
                            f"got {atrous_rates!r}")
        for r in atrous_rates:
            check_int(r, "each atrous rate")
        self.backbone = pyramid
        self.feature_info = info
        self.head = DeepLabHead(info.channels[-1], num_classes, tuple(atrous_rates), channels)

    def coarse_size(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) of the logits before upsampling: the coarsest level's, by the size rule."""
        return self.feature_info.sizes(height, width)[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes, H, W); the pyramid checks the input."""
        coarse = self.backbone(x)[-1]  # (B, C, H/8, W/8) at output stride 8
        logits = self.head(coarse)  # (B, num_classes, H/8, W/8)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)  # (B, K, H, W)


def deeplab(name: str, num_classes: int, output_stride: int = 8) -> DeepLab:
    """A DeepLab on ``backbone(name, output_stride)`` (torchvision's model ``name``, random weights)."""
    return DeepLab(backbone(name, output_stride=output_stride), num_classes)
