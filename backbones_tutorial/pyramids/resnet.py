"""A feature pyramid from torchvision's ResNet, in two styles, each declaring what it returns.

- ``ResNetFeatures`` subclasses torchvision's ``ResNet`` and overrides ``forward``: the
  torchvision state dict loads into it strictly (it still owns ``avgpool`` and ``fc``).
- ``ResNetBackbone`` keeps a torchvision ResNet inside and calls its layers in order.

Both return ``[stem, layer1, layer2, layer3, layer4]`` and carry ``feature_info``: the name,
channel count and reduction (stride) of each level. The subclass declares it while its stages
are built; the wrapper takes the wrapped model's declaration, or reads it from the modules of a
ResNet built by torchvision (``resnet_feature_info``). Downstream code (the FPN, the
extractors) never hard-codes 64/128/256/512 or 256/.../2048.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from backbones_tutorial.checks import check_batch, check_choice, check_int
from backbones_tutorial.models.resnet import RESNETS, STAGES, DeclaresLevels, ResNet, resnet_feature_info

torch.fx.wrap("check_batch")

__all__ = ["LEVEL_NAMES", "ResNetBackbone", "ResNetFeatures", "resnet_features", "walk_stages"]


LEVEL_NAMES = ("stem", *STAGES)  # what walk_stages returns by default


def walk_stages(resnet: torchvision.models.ResNet | ResNet, x: torch.Tensor, names: tuple[str, ...] = LEVEL_NAMES,
                stop_early: bool = True) -> list[torch.Tensor]:
    """The one walk through a ResNet's stages, for every pyramid of the package: the stem (conv1,
    bn1, relu), then the max-pool and layer1, layer2, layer3, layer4. Returns the maps of ``names``
    in that order; with ``stop_early`` nothing past the last of them is computed (as timm's
    ``forward_intermediates(indices, stop_early=True)``)."""
    x = resnet.relu(resnet.bn1(resnet.conv1(x)))  # (B, 64, H/2, W/2)
    out = [x] if "stem" in names else []
    for i, name in enumerate(STAGES):
        if stop_early and len(out) == len(names):
            break
        if i == 0:
            x = resnet.maxpool(x)  # (B, 64, H/4, W/4)
        x = getattr(resnet, name)(x)  # (B, 64*e*2^i, H/2^(i+2), W/2^(i+2)), or less with dilation
        if name in names:
            out.append(x)
    return out


class ResNetFeatures(DeclaresLevels, torchvision.models.ResNet):
    """torchvision's ResNet whose forward returns the pyramid instead of class scores.

    torchvision's ``__init__`` builds the stages with ``_make_layer``; this class's
    ``_make_layer`` declares each one's level in ``feature_info`` as it is built.
    """

    def _make_layer(self, *args, **kwargs) -> nn.Sequential:
        return self._declare(super()._make_layer(*args, **kwargs))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_batch(x, self.conv1.in_channels, "ResNetFeatures", self.conv1.weight.dtype)
        return walk_stages(self, x)  # [stem, layer1, layer2, layer3, layer4]: H/2 .. H/32


def resnet_features(depth: int, **kwargs) -> ResNetFeatures:
    """A randomly initialised ``ResNetFeatures``; load torchvision weights with ``load_state_dict``.

    The block type and the blocks per stage are those of the package's ``resnet{depth}`` factory
    (read from a copy built on the meta device, which costs no memory).
    """
    check_choice(depth, RESNETS, "ResNet depth")
    if "num_classes" in kwargs:
        check_int(kwargs["num_classes"], "num_classes")
    with torch.device("meta"):
        recipe = RESNETS[depth]()
    block = Bottleneck if recipe.layer1[0].expansion == Bottleneck.expansion else BasicBlock
    return ResNetFeatures(block, [len(getattr(recipe, s)) for s in STAGES], **kwargs)


class ResNetBackbone(nn.Module):
    """Keep a torchvision ResNet and call its layers in order, returning the pyramid."""

    def __init__(self, resnet: torchvision.models.ResNet | ResNet) -> None:
        super().__init__()
        if not isinstance(resnet, (torchvision.models.ResNet, ResNet)):
            raise TypeError(
                "ResNetBackbone expects a torchvision.models.ResNet or the package's ResNet, "
                f"got {type(resnet).__name__}"
            )
        self.body = resnet
        self.feature_info = resnet_feature_info(resnet)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_batch(x, self.body.conv1.in_channels, "ResNetBackbone", self.body.conv1.weight.dtype)
        return walk_stages(self.body, x)  # [stem, layer1, layer2, layer3, layer4]: H/2 .. H/32
