"""The residual blocks of ResNet, written from scratch.

Attribute names follow torchvision (``conv1``, ``bn1``, ``conv2``, ``bn2``, ``conv3``,
``bn3``, ``relu``, ``downsample``) so that torchvision's state dicts load strictly.

Shape glossary used in the comments: ``(B, C, H, W)``; a stride-2 step is written ``H/2``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.fx
from torch import nn

from backbones_tutorial.checks import check_batch, check_choice, check_int, check_shortcut

__all__ = ["BLOCKS", "BasicBlock", "Bottleneck", "NormLayer", "conv1x1", "conv3x3", "projection", "residual_block"]

torch.fx.wrap("check_batch")
torch.fx.wrap("check_shortcut")

NormLayer = Callable[[int], nn.Module]


def _check_planes(in_planes: int, out_planes: int, stride: int) -> None:
    check_int(in_planes, "in_planes (input channels)")
    check_int(out_planes, "out_planes (output channels)")
    check_int(stride, "stride")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1: keeps H and W at stride 1, halves them at stride 2."""
    _check_planes(in_planes, out_planes, stride)
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution: changes the channel count (and subsamples when stride > 1)."""
    _check_planes(in_planes, out_planes, stride)
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def projection(in_planes: int, out_planes: int, stride: int, norm_layer: NormLayer = nn.BatchNorm2d) -> nn.Sequential:
    """The projection shortcut: a strided 1x1 conv and a norm, used where F(x) and x differ in shape."""
    return nn.Sequential(conv1x1(in_planes, out_planes, stride), norm_layer(out_planes))


def _check_block(block: type, inplanes: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
    _check_planes(inplanes, planes, stride)
    if downsample is not None and not isinstance(downsample, nn.Module):
        raise TypeError(f"{block.__name__}: downsample must be an nn.Module such as "
                        f"projection({inplanes}, {planes}, {stride}) or None, got {type(downsample).__name__}")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut: out = relu(F(x) + shortcut(x)). Used by ResNet18/34."""

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        _check_block(type(self), inplanes, planes, stride, downsample)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_batch(x, self.conv1.in_channels, "BasicBlock", self.conv1.weight.dtype)
        identity = x  # (B, C_in, H, W)

        out = self.relu(self.bn1(self.conv1(x)))  # (B, planes, H/s, W/s)
        out = self.bn2(self.conv2(out))  # (B, planes, H/s, W/s)

        if self.downsample is not None:
            identity = self.downsample(x)  # (B, planes, H/s, W/s)

        check_shortcut(out, identity, "BasicBlock")
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (by ``expansion`` = 4), plus a shortcut. Used by ResNet50/101/152.

    The stride sits on the 3x3 convolution (ResNet v1.5), as in torchvision; the original
    paper put it on the first 1x1.
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        _check_block(type(self), inplanes, planes, stride, downsample)
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_batch(x, self.conv1.in_channels, "Bottleneck", self.conv1.weight.dtype)
        identity = x  # (B, C_in, H, W)

        out = self.relu(self.bn1(self.conv1(x)))  # (B, planes, H, W)
        out = self.relu(self.bn2(self.conv2(out)))  # (B, planes, H/s, W/s)
        out = self.bn3(self.conv3(out))  # (B, 4*planes, H/s, W/s)

        if self.downsample is not None:
            identity = self.downsample(x)  # (B, 4*planes, H/s, W/s)

        check_shortcut(out, identity, "Bottleneck")
        out += identity
        return self.relu(out)


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def residual_block(kind: str, inplanes: int, planes: int, stride: int = 1,
                   norm_layer: NormLayer = nn.BatchNorm2d) -> BasicBlock | Bottleneck:
    """A ``"basic"`` or ``"bottleneck"`` block with the shortcut ResNet gives it: a projection exactly
    when the output's shape differs from the input's (a stride, or a new channel count), else the identity."""
    check_choice(kind, BLOCKS, "block kind")
    block = BLOCKS[kind]
    _check_planes(inplanes, planes, stride)
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = projection(inplanes, planes * block.expansion, stride, norm_layer)
    return block(inplanes, planes, stride, downsample, norm_layer)
