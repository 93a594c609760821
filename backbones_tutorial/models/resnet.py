"""ResNet from scratch: one general class, and a factory per depth that only states numbers.

The attribute names are torchvision's, so ``ResNet.load_state_dict(tv_model.state_dict())``
works strictly and the two models compute the same function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch
import torch.fx
from torch import nn

from backbones_tutorial.checks import check_batch, check_choice, check_int, is_int
from backbones_tutorial.models.blocks import BasicBlock, Bottleneck, NormLayer, projection
from backbones_tutorial.pyramids.levels import FeatureInfo, Levels

__all__ = ["Block", "DeclaresLevels", "RESNETS", "ResNet", "STAGES", "resnet", "resnet101", "resnet152", "resnet18",
           "resnet34", "resnet50", "resnet_feature_info"]

torch.fx.wrap("check_batch")

Block = type[BasicBlock | Bottleneck]

STAGES = ("layer1", "layer2", "layer3", "layer4")  # the names of ResNet's four stages, as torchvision has them


def _stride(module: nn.Conv2d | nn.MaxPool2d) -> int:
    s = module.stride
    return s[0] if isinstance(s, tuple) else s


class DeclaresLevels:
    """Mixin for ResNets: ``_make_layer`` declares each stage's level as it builds the stage.

    ResNet's stride-2 layers are all padded, so every level's side is ``ceil(input / reduction)``.
    """

    if TYPE_CHECKING:  # what the mixin reads from its ResNet; for mypy only, as TorchScript
        conv1: nn.Conv2d  # would try to compile class-level annotations
        maxpool: nn.MaxPool2d
        inplanes: int

    __jit_unused_properties__ = ["feature_info"]  # metadata for Python code: torch.jit.script skips it

    def _declare(self, stage: nn.Sequential) -> nn.Sequential:
        stem = FeatureInfo("stem", self.conv1.out_channels, _stride(self.conv1))
        levels = self.__dict__.setdefault("_levels", [stem])
        reduction = levels[-1].reduction * stage[0].stride  # only a stage's first block may subsample
        if len(levels) == 1:
            reduction *= _stride(self.maxpool)  # between the stem and layer1
        dilation = cast(nn.Conv2d, stage[-1].conv2).dilation[0]  # dilated instead of strided, torchvision's way
        levels.append(FeatureInfo(STAGES[len(levels) - 1], self.inplanes, reduction, rounding="ceil",
                                  dilation=dilation))
        return stage

    @property
    def feature_info(self) -> Levels:
        """The stem and the four stages, each a FeatureInfo (name, channels, reduction, rounding)."""
        return Levels(self.__dict__["_levels"])


def resnet_feature_info(model: nn.Module) -> Levels:
    """The ``feature_info`` of any ResNet: its own declaration if it has one, else read from the
    modules of a torchvision ResNet built elsewhere. A stage changes its channel count only
    through the projection of its first block (ResNet adds one exactly when the shape changes),
    so the count is that projection's, or the previous level's. A stage that torchvision dilated
    instead of striding (``replace_stride_with_dilation``) keeps its predecessor's reduction and
    declares the dilation of its convolutions."""
    declared = getattr(model, "feature_info", None)
    if isinstance(declared, Levels):
        return declared
    missing = [n for n in ("conv1", "maxpool", *STAGES) if not isinstance(getattr(model, n, None), nn.Module)]
    if missing:
        raise TypeError(f"resnet_feature_info expects a ResNet (conv1, maxpool, layer1..layer4), got "
                        f"{type(model).__name__} without {', '.join(missing)}")
    conv1, maxpool = cast(nn.Conv2d, model.conv1), cast(nn.MaxPool2d, model.maxpool)
    levels = [FeatureInfo("stem", conv1.out_channels, _stride(conv1))]
    reduction, channels = levels[0].reduction * _stride(maxpool), levels[0].channels
    for name in STAGES:
        first, last = getattr(model, name)[0], getattr(model, name)[-1]
        if first.downsample is not None:
            channels = first.downsample[0].out_channels
        reduction *= first.stride  # 1 for a stage dilated instead of strided (replace_stride_with_dilation)
        dilation = last.conv2.dilation[0]  # the stride given up so far: its last block's 3x3 conv says it
        levels.append(FeatureInfo(name, channels, reduction, rounding="ceil", dilation=dilation))
    return Levels(levels)


class ResNet(DeclaresLevels, nn.Module):
    """Stem (7x7/2 conv, BN, ReLU, 3x3/2 max-pool), four stages of residual blocks, and a head.

    Each stage after the first halves H and W in its first block and doubles the channels.
    ``feature_info`` declares the stem and the four stages as ``_make_layer`` builds them.
    """

    def __init__(
        self,
        block: Block,
        layers: list[int],
        num_classes: int = 1000,
        in_channels: int = 3,
        zero_init_residual: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        if block not in (BasicBlock, Bottleneck):
            raise TypeError(f"block must be BasicBlock or Bottleneck, got {block!r}")
        if (not isinstance(layers, (list, tuple)) or len(layers) != 4
                or not all(is_int(n) for n in layers)):
            raise ValueError(f"layers must be four positive block counts, e.g. [3, 4, 6, 3]; got {layers!r}")
        check_int(num_classes, "num_classes")
        check_int(in_channels, "in_channels (3 for RGB images)")
        if not isinstance(zero_init_residual, bool):
            raise TypeError(f"zero_init_residual must be True or False, got {zero_init_residual!r}")
        if not callable(norm_layer) or isinstance(norm_layer, nn.Module):
            raise TypeError(f"norm_layer must build a norm for a channel count, e.g. nn.BatchNorm2d or "
                            f"lambda c: nn.GroupNorm(32, c), got {norm_layer!r}")
        self._norm_layer = norm_layer
        self.inplanes = 64

        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:  # each block then starts as the identity
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)  # type: ignore[arg-type]  # a norm layer's weight
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)  # type: ignore[arg-type]  # is a Tensor at run time

    def _make_layer(self, block: Block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        """One stage: a first block that may change shape (projection shortcut), then identity blocks."""
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = projection(self.inplanes, planes * block.expansion, stride, self._norm_layer)
        layers = [block(self.inplanes, planes, stride, downsample, self._norm_layer)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, norm_layer=self._norm_layer) for _ in range(1, blocks)]
        return self._declare(nn.Sequential(*layers))  # feature_info gains this stage

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_batch(x, self.conv1.in_channels, "ResNet", self.conv1.weight.dtype)
        x = self.relu(self.bn1(self.conv1(x)))  # (B, 64, H/2, W/2)
        x = self.maxpool(x)  # (B, 64, H/4, W/4)

        x = self.layer1(x)  # (B, 64*e, H/4, W/4)
        x = self.layer2(x)  # (B, 128*e, H/8, W/8)
        x = self.layer3(x)  # (B, 256*e, H/16, W/16)
        x = self.layer4(x)  # (B, 512*e, H/32, W/32)

        x = self.avgpool(x)  # (B, 512*e, 1, 1)
        x = torch.flatten(x, 1)  # (B, 512*e)
        return self.fc(x)  # (B, num_classes)


# Blocks per stage from Table 1 of He et al., "Deep Residual Learning for Image Recognition" (2015).
def resnet18(**kwargs) -> ResNet:
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


def resnet34(**kwargs) -> ResNet:
    return ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)


def resnet50(**kwargs) -> ResNet:
    return ResNet(Bottleneck, [3, 4, 6, 3], **kwargs)


def resnet101(**kwargs) -> ResNet:
    return ResNet(Bottleneck, [3, 4, 23, 3], **kwargs)


def resnet152(**kwargs) -> ResNet:
    return ResNet(Bottleneck, [3, 8, 36, 3], **kwargs)


RESNETS = {18: resnet18, 34: resnet34, 50: resnet50, 101: resnet101, 152: resnet152}


def resnet(depth: int, **kwargs) -> ResNet:
    """A randomly initialised ResNet of the given depth."""
    check_choice(depth, RESNETS, "ResNet depth")
    return RESNETS[depth](**kwargs)
