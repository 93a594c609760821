"""A Feature Pyramid Network (Lin et al., 2017) and a ResNet50-FPN backbone.

Attribute names follow ``torchvision.ops.FeaturePyramidNetwork`` (``inner_blocks``,
``layer_blocks``, each conv wrapped in a one-element ``nn.Sequential`` as torchvision's
``Conv2dNormActivation`` is), so its state dict loads strictly and the outputs match.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from backbones_tutorial.checks import check_batch, check_dtype, check_int, check_pyramid, is_int
from backbones_tutorial.pyramids.levels import Levels
from backbones_tutorial.pyramids.resnet import ResNetFeatures, resnet_features

torch.fx.wrap("check_batch")  # symbolic tracing records the checks as calls, not run on proxies
torch.fx.wrap("check_pyramid")

__all__ = ["FPN", "NaiveFPN", "PyramidFPN", "ResNetFPN", "resnet50_fpn"]


class FPN(nn.Module):
    """Lateral 1x1 convs, a top-down path, and a 3x3 output conv per level.

    Inputs are ordered from fine to coarse (e.g. C2..C5); outputs P2..P5 have ``out_channels``
    each and the sizes of their inputs. The top-down path upsamples each coarser map to the
    exact size of the finer one: where a finer level has an odd side (inputs of 225 or 500, say), a
    plain ``scale_factor=2`` gives one row or column too many.
    """

    def __init__(self, in_channels_list: list[int], out_channels: int) -> None:
        super().__init__()
        if (not isinstance(in_channels_list, (list, tuple)) or not in_channels_list
                or not all(is_int(c) for c in in_channels_list)):
            raise ValueError(
                f"in_channels_list must be a list of positive channel counts, fine to coarse, e.g. "
                f"[256, 512, 1024, 2048]; got {in_channels_list!r}"
            )
        check_int(out_channels, "out_channels")
        self.in_channels_list = list(in_channels_list)
        self.inner_blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(c, out_channels, 1)) for c in in_channels_list)
        self.layer_blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(out_channels, out_channels, 3, padding=1)) for _ in in_channels_list
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def upsample(self, top: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        """Bring the coarser map to the lateral's exact (H, W)."""
        return F.interpolate(top, size=lateral.shape[-2:], mode="nearest")

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """``features`` fine to coarse, as a list; a dict (torchvision's extractors) is refused:
        pass ``list(d.values())`` after checking its order."""
        dtype = next(self.inner_blocks.parameters()).dtype
        features = check_pyramid(features, self.in_channels_list, type(self).__name__, dtype)
        top = self.inner_blocks[-1](features[-1])  # (B, out, H_k, W_k), the coarsest level
        outputs = [self.layer_blocks[-1](top)]
        for i in range(len(self.inner_blocks) - 2, -1, -1):  # the module count, not len(features): traceable
            lateral = self.inner_blocks[i](features[i])  # (B, out, H_i, W_i)
            top = lateral + self.upsample(top, lateral)  # (B, out, H_i, W_i)
            outputs.insert(0, self.layer_blocks[i](top))
        return outputs


class NaiveFPN(FPN):
    """Doubling by ``scale_factor=2``, as the FPN paper states the step: fails wherever a finer level
    has an odd side, so it needs inputs padded to a multiple of the coarsest stride (32)."""

    def upsample(self, top: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        return F.interpolate(top, scale_factor=2, mode="nearest")


class ResNetFPN(nn.Module):
    """A ResNet pyramid (layer1..layer4) followed by an FPN: P2..P5 with strides 4 to 32.

    Load torchvision weights into ``body`` (a ``ResNetFeatures``) before wrapping it; the
    classifier head (``avgpool``, ``fc``) is then dropped, since the pyramid does not use it.
    """

    def __init__(self, body: ResNetFeatures, out_channels: int = 256) -> None:
        super().__init__()
        if not isinstance(body, ResNetFeatures):
            raise TypeError(f"body must be a ResNetFeatures (see resnet_features), got {type(body).__name__}")
        check_int(out_channels, "out_channels")  # every check before the body is changed
        for head in ("avgpool", "fc"):  # unused by the pyramid; already gone if body was wrapped before
            if hasattr(body, head):
                delattr(body, head)
        self.body = body
        levels = Levels(body.feature_info[1:])  # C2..C5 (a slice: it keeps the chain); the FPN skips the stem
        self.fpn = FPN([f.channels for f in levels], out_channels)
        self.feature_info = levels.renamed([f"p{i + 2}" for i in range(len(levels))], out_channels)  # C's sizes

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_batch(x, self.body.conv1.in_channels, "ResNetFPN", self.body.conv1.weight.dtype)
        c = self.body(x)[1:]  # C2..C5, without the stem
        return self.fpn(c)  # P2..P5: (B, out, H/4, W/4) ... (B, out, H/32, W/32)


def resnet50_fpn(out_channels: int = 256) -> ResNetFPN:
    """A randomly initialised ResNet50-FPN: P2..P5, ``out_channels`` each, strides 4 to 32."""
    return ResNetFPN(resnet_features(50), out_channels)


class PyramidFPN(nn.Module):
    """Any pyramid that declares ``feature_info`` (``backbone("convnext_tiny")``, a ``ResNetFeatures``)
    followed by an FPN with one output per level, each of ``out_channels`` at its level's size."""

    def __init__(self, body: nn.Module, out_channels: int = 256) -> None:
        super().__init__()
        levels = getattr(body, "feature_info", None)
        if not isinstance(levels, Levels):
            raise TypeError(f"body must declare feature_info (a Levels, e.g. backbone('convnext_tiny')), "
                            f"got {type(body).__name__} with feature_info={levels!r}")
        self.body = body
        self.fpn = FPN(levels.channels, out_channels)  # read, never typed: 96/192/384/768 for ConvNeXt-T
        # each output has its level's size, slice or dilation included: the body's levels, renamed
        self.feature_info = levels.renamed([f"p_{f.name}" for f in levels], out_channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if isinstance(x, torch.Tensor):  # the rest of the input is the body's to check
            check_dtype(x, next(self.parameters()).dtype, "PyramidFPN")  # the body's (the FPN checks its own)
        return self.fpn(self.body(x))  # one (B, out, H_i, W_i) per level of the body
