"""A feature pyramid from a plain ViT, in the style of ViTDet (Li et al., 2022, "Exploring Plain
Vision Transformer Backbones for Object Detection"), section 3 and figure 2 (c).

A ViT has no stages: every block sees the same H/16 x W/16 grid of tokens. ViTDet builds strides
4 to 32 from the last block's tokens alone: two 2x2 stride-2 transposed convs (with a LayerNorm and
a GELU between) up to H/4, one up to H/8, the tokens themselves at H/16, a 2x2 max-pool down to
H/32. These new modules are randomly initialised and trained with the detector; the ViT's own
modules are shared. torchvision's ViT checks its ``image_size``: other sizes are refused here,
before torch's assertion, with the size it needs.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import VisionTransformer
from torchvision.models.convnext import LayerNorm2d

from backbones_tutorial.checks import check_batch
from backbones_tutorial.pyramids.levels import FeatureInfo, Levels
from backbones_tutorial.pyramids.probe import shape_call  # the levels are read from the tensors, as for the others

torch.fx.wrap("check_batch")  # symbolic tracing records the input check as a call

__all__ = ["ViTSimplePyramid"]


class ViTSimplePyramid(nn.Module):
    """ViTDet's simple feature pyramid on a torchvision ``VisionTransformer`` with 16x16 patches."""

    def __init__(self, vit: VisionTransformer) -> None:
        super().__init__()
        if not isinstance(vit, VisionTransformer):
            raise TypeError(f"ViTSimplePyramid needs a torchvision VisionTransformer, got {type(vit).__name__}")
        if vit.patch_size != 16:
            raise ValueError(f"the simple pyramid builds strides 4-32 from stride-16 tokens; this ViT has "
                             f"{vit.patch_size}x{vit.patch_size} patches (expected 16, as in vit_b_16)")
        self.body = vit  # shared, not copied
        self.family = "VisionTransformer"
        self.fixed_size: tuple[int, int] | None = (vit.image_size, vit.image_size)
        d = vit.hidden_dim
        self.in_channels = vit.conv_proj.in_channels
        self.scales = nn.ModuleList([
            nn.Sequential(nn.ConvTranspose2d(d, d // 2, 2, stride=2), LayerNorm2d(d // 2), nn.GELU(),
                          nn.ConvTranspose2d(d // 2, d // 4, 2, stride=2)),  # H/16 -> H/4
            nn.ConvTranspose2d(d, d // 2, 2, stride=2),  # H/16 -> H/8
            nn.Identity(),  # H/16
            nn.MaxPool2d(2, stride=2),  # H/16 -> H/32
        ])
        n = vit.image_size
        outs = shape_call(self, (1, self.in_channels, n, n))
        assert isinstance(outs, list)
        grid = n // vit.patch_size  # the tokens' side; torchvision's ViT needs image_size % patch_size == 0

        def reduction(side: int) -> int:  # a level's stride, from its side and the grid's (the pool floors)
            return vit.patch_size // (side // grid) if side >= grid else vit.patch_size * (grid // side)

        self.feature_info = Levels(FeatureInfo(f"p{reduction(o.shape[2])}", o.shape[1], reduction(o.shape[2]),
                                               "floor") for o in outs)

    def check_size(self, height: int, width: int) -> None:
        """Refuse any size but the ViT's own, naming the size it needs."""
        assert self.fixed_size is not None
        if (height, width) != self.fixed_size:
            h, w = self.fixed_size
            raise ValueError(f"this ViT takes only {h}x{w} inputs (its image_size, fixed by its position "
                             f"embedding); got {height}x{width}: resize or pad the batch to {h}x{w}")

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The last encoder block's patch tokens as a map: (B, D, H/16, W/16)."""
        vit = self.body
        b, _, h, w = x.shape
        t = vit._process_input(x)  # (B, N, D), N = H/16 * W/16
        t = torch.cat([vit.class_token.expand(b, -1, -1), t], dim=1)  # (B, 1 + N, D)
        t = vit.encoder(t)[:, 1:]  # (B, N, D): the class token is the head's, not a place
        return t.transpose(1, 2).reshape(b, vit.hidden_dim, h // 16, w // 16)  # (B, D, H/16, W/16)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_batch(x, self.in_channels, "ViT simple pyramid", self.body.conv_proj.weight.dtype)
        self.check_size(x.shape[-2], x.shape[-1])
        grid = self.tokens(x)  # (B, D, H/16, W/16)
        return [scale(grid) for scale in self.scales]  # (B, D/4, H/4, W/4) ... (B, D, H/32, W/32)
