"""Output stride: the deeper stages of a pyramid dilated instead of strided (DeepLab's atrous trick).

A stage that would halve the resolution past the wanted output stride keeps it instead: the
convolutions that subsample get stride 1, and every later convolution with a kernel larger than
1x1 spaces its taps by the stride given up (its *dilation*), with the padding that keeps the side:
``(k - 1) // 2 * dilation`` for an odd kernel ``k``. The receptive field grows as with the stride,
the weights are the same tensors, the maps stay at ``H / output_stride``.

Which convolution gets which dilation follows the reference of each family, block by block:

- ``"previous"``: the block that used to subsample keeps the dilation before it, the blocks after it
  use the new one. torchvision's ``ResNet._make_layer(dilate=True)`` (``replace_stride_with_dilation``),
  and timm's ``output_stride`` for EfficientNet/MobileNet (``EfficientNetBuilder``), RegNet
  (``RegStage``'s ``first_dilation``) and ConvNeXt (``ConvNeXtStage``, whose 2x2/2 downsampling conv
  becomes a 2x2/1 conv with "same" padding).
- ``"new"``: the block that used to subsample already uses the new dilation: torchvision's
  ``mobilenet_v3_large(dilated=True)``, the backbone of its ``deeplabv3_mobilenet_v3_large`` and
  ``lraspp_mobilenet_v3_large`` (output stride 16).

ViT (no stages: one stride-16 patchify) and Swin (patch merging of 2x2 tokens, windowed attention
whose window is counted in tokens) have no strided convolution to trade, and neither torchvision nor
timm dilates VGG (timm's ``VGG`` accepts only ``output_stride=32``): these are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from backbones_tutorial.checks import check_choice

__all__ = ["DILATABLE", "Dilation", "OUTPUT_STRIDES", "SamePaddedConv2d", "apply_dilation", "check_undilated",
           "plan_dilation"]

OUTPUT_STRIDES = (8, 16, 32)  # 32: the classification network as it is


class SamePaddedConv2d(nn.Conv2d):
    """``nn.Conv2d`` with ``padding="same"`` that pads an even kernel's extra pixel itself, as
    ``F.conv2d`` does inside (the same ops, so the same result), without the warning torch gives
    there that it pads a copy of the input: ConvNeXt's 2x2 downsampling conv at stride 1, dilated.
    ``(k - 1) * d`` pixels in all, split over the two sides with the odd one at the end, as timm's
    "same" padding. ``apply_dilation`` swaps it in; the parameters and the state dict are unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        left, extra = [], []
        for k, d in zip(self.kernel_size, self.dilation, strict=True):  # (H, W)
            total = d * (k - 1)
            left.append(total // 2)
            extra.append(total - 2 * (total // 2))  # 0 or 1, at the end
        x = F.pad(x, (0, extra[1], 0, extra[0]))
        return F.conv2d(x, self.weight, self.bias, self.stride, tuple(left), self.dilation, self.groups)


def _resnet_units(m: nn.Module) -> list[nn.Module]:
    blocks = (b for s in ("layer1", "layer2", "layer3", "layer4") for b in m.get_submodule(s).children())
    return [m.get_submodule("conv1"), m.get_submodule("maxpool"), *blocks]


def _features_units(m: nn.Module) -> list[nn.Module]:
    """Each child of ``features``; a child that is a stage (a Sequential of blocks) gives its blocks."""
    return [b for child in m.get_submodule("features").children()
            for b in (child.children() if isinstance(child, nn.Sequential) and _is_stage(child) else [child])]


def _is_stage(seq: nn.Sequential) -> bool:
    """A Sequential of blocks (torchvision's MBConv, CNBlock) rather than one conv-norm-activation."""
    return not any(isinstance(c, (nn.Conv2d, nn.BatchNorm2d, nn.LayerNorm)) or type(c).__name__ == "LayerNorm2d"
                   for c in seq.children())


def _regnet_units(m: nn.Module) -> list[nn.Module]:
    trunk = m.get_submodule("trunk_output")
    return [m.get_submodule("stem"), *(b for stage in trunk.children() for b in stage.children())]


# Each family that can be dilated: its blocks in call order (the unit of the rule) and its rule.
DILATABLE: dict[str, tuple[Callable[[nn.Module], list[nn.Module]], str]] = {
    "ResNet": (_resnet_units, "previous"),  # torchvision replace_stride_with_dilation, every depth
    "MobileNetV3": (_features_units, "new"),  # torchvision mobilenet_v3_large(dilated=True)
    "EfficientNet": (_features_units, "previous"),  # timm EfficientNetBuilder(output_stride)
    "RegNet": (_regnet_units, "previous"),  # timm RegNet(output_stride)
    "ConvNeXt": (_features_units, "previous"),  # timm ConvNeXt(output_stride)
}


@dataclass(frozen=True)
class Dilation:
    """What ``apply_dilation`` will do to one block: strides set to 1 (``unstride``) and the
    dilation of its convolutions larger than 1x1."""

    block: nn.Module
    unstride: bool
    dilation: int


def _side(value: int | tuple[int, ...] | str, what: str, where: str) -> int:
    if isinstance(value, str) or (isinstance(value, tuple) and len(set(value)) != 1):
        raise NotImplementedError(f"{where}: {what} {value!r} is not the same on both sides; "
                                  f"backbone(output_stride=...) dilates square convolutions only")
    return value[0] if isinstance(value, tuple) else value


def check_undilated(model: nn.Module) -> None:
    """Refuse a model whose convolutions are already dilated: its stages cannot be told apart by
    resolution, and dilating it again would compound the dilation."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and any(d != 1 for d in m.dilation):
            raise ValueError(
                f"{type(model).__name__} is already dilated ({name} has dilation {tuple(m.dilation)}); "
                f"backbone() takes an undilated model and dilates it itself: build it without "
                f"replace_stride_with_dilation / dilated=True and pass output_stride=16 or 8")


def plan_dilation(model: nn.Module, family: str, output_stride: int) -> list[Dilation]:
    """What to change so that ``model`` of ``family`` stops subsampling at ``output_stride``.
    Checks everything and changes nothing: ``apply_dilation`` does the changes."""
    check_choice(output_stride, OUTPUT_STRIDES, "output_stride")
    if family not in DILATABLE:
        raise ValueError(f"{family} cannot be dilated (output_stride={output_stride}): its stages do not subsample "
                         f"with strided convolutions that a dilation can replace; families that can: "
                         f"{', '.join(DILATABLE)} (output_stride 32 works for every family)")
    check_undilated(model)
    units, rule = DILATABLE[family]
    plan, reduction, dilation = [], 1, 1
    for block in units(model):
        strides = {_side(m.stride, "stride", type(block).__name__) for m in block.modules()
                   if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))}
        stride = max(strides, default=1)
        if stride > 1 and reduction * stride > output_stride:
            new = dilation * stride
            plan.append(Dilation(block, True, dilation if rule == "previous" else new))
            dilation = new
        else:
            reduction *= stride
            if dilation > 1:
                plan.append(Dilation(block, False, dilation))
    if reduction != output_stride:
        raise NotImplementedError(f"{type(model).__name__} subsamples to /{reduction} in all; it cannot be "
                                  f"dilated to output_stride={output_stride}")
    for step in plan:  # every change is possible before any is made
        for name, m in step.block.named_modules():
            if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) and step.unstride:
                raise NotImplementedError(f"{type(step.block).__name__}.{name}: a strided pool cannot be dilated")
            if isinstance(m, nn.Conv2d):
                k, p = _side(m.kernel_size, "kernel", name), _side(m.padding, "padding", name)
                s = _side(m.stride, "stride", name)
                if not (k % 2 == 1 and p == (k - 1) // 2) and not (k == s and p == 0):
                    raise NotImplementedError(f"{name}: a {k}x{k} conv with padding {p} and stride {s} does not "
                                              f"keep the side at stride 1 once dilated")
    return plan


def apply_dilation(plan: list[Dilation]) -> None:
    """Change the blocks of ``plan`` in place: strides to 1, dilation and the padding that keeps the side."""
    for step in plan:
        if step.unstride and isinstance(getattr(step.block, "stride", None), int):
            setattr(step.block, "stride", 1)  # noqa: B010  # ResNet's blocks record their stride, as torchvision's dilated ones do
        for m in step.block.modules():
            if not isinstance(m, nn.Conv2d):
                continue
            if step.unstride:
                m.stride = (1, 1)
            k = m.kernel_size[0]
            if k > 1:
                m.dilation = (step.dilation, step.dilation)
                # odd k: (k - 1) // 2 * d on each side; even k (ConvNeXt's 2x2 downsampling) pads
                # (k - 1) * d in all, the extra pixel at the end, as timm's "same" padding does
                m.padding = ((k - 1) // 2 * step.dilation,) * 2 if k % 2 else "same"
                if not k % 2 and type(m) is nn.Conv2d and m.padding_mode == "zeros":
                    m.__class__ = SamePaddedConv2d  # same parameters and state dict
