"""Swin's shifted-window attention, written so that one exported program serves every input size.

torchvision's ``shifted_window_attention`` decides three things in Python from the map's size:
whether a side needs padding to a multiple of the window, whether to shift (not where one window
covers the side), and how to crop the padding off again. ``torch.export`` records each decision
as a guard on the size it was exported at, so a Swin pyramid exported with dynamic H and W
refuses most other sizes; the ONNX exporter keeps the decisions without guards, so its model
runs at other sizes and is wrong there (``tests/test_deploy.py`` reproduces both).

``window_attention`` computes the same maps, bit for bit, without deciding anything in Python:
the padded side is ``ceil(side / window) * window``, the shift is ``torch.sym_ite`` of the size
(a ``Where`` in ONNX), the cyclic shift and the crop are ``index_select``, and the attention mask
is computed for every window (zeros where torchvision adds none). ``backbone()`` swaps the class
of each ``ShiftedWindowAttention`` (and ``V2``) of a Swin for the subclasses below, which call it:
same attributes, same state dict, same maps.

One limit is torch.export's own: a side of one window (size 1 in the window grid) is specialised,
like any size 1. A program exported where every stage has at least two windows a side (Swin-T:
sides of 228 and more) refuses a size with one window at some stage, with a guard error; the ONNX
model has no guards and is right at every size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.swin_transformer import ShiftedWindowAttention, ShiftedWindowAttentionV2

from backbones_tutorial.pyramids.levels import Levels

__all__ = ["AnySizeWindowAttention", "AnySizeWindowAttentionV2", "any_size_windows", "two_window_side",
           "window_attention"]


def _shift_or_zero(side: int, window: int, shift: int) -> int:
    """torchvision's rule, no shift where one window covers the side, as a value, not a branch."""
    wider = side > window
    if isinstance(wider, bool):  # eager: plain ints
        return shift if wider else 0
    return torch.sym_ite(wider, shift, shift * 0)  # traced: a symbolic choice, no guard


def _cyclic(n: int, shift: int, device: torch.device) -> Tensor:
    """The indices that shift a side of ``n`` cyclically by ``-shift`` (``|shift| < n``)."""
    i = torch.arange(n, device=device) + shift  # in [-n, 2n): no remainder, which ONNX cannot trace
    return torch.where(i >= n, i - n, torch.where(i < 0, i + n, i))


def window_attention(x: Tensor, qkv_weight: Tensor, proj_weight: Tensor, relative_position_bias: Tensor,
                     window_size: list[int], num_heads: int, shift_size: list[int], attention_dropout: float = 0.0,
                     dropout: float = 0.0, qkv_bias: Tensor | None = None, proj_bias: Tensor | None = None,
                     logit_scale: Tensor | None = None, training: bool = True) -> Tensor:
    """torchvision's ``shifted_window_attention`` (same arguments, same result) with no decision
    taken in Python from the input's size. ``x``: (B, H, W, C)."""
    B, H, W, C = x.shape
    wh, ww = window_size
    nh, nw = (H + wh - 1) // wh, (W + ww - 1) // ww  # windows a side, after padding
    pad_h, pad_w = nh * wh, nw * ww
    x = F.pad(x, (0, 0, 0, pad_w - W, 0, pad_h - H))
    sh, sw = _shift_or_zero(pad_h, wh, shift_size[0]), _shift_or_zero(pad_w, ww, shift_size[1])
    x = x.index_select(1, _cyclic(pad_h, sh, x.device)).index_select(2, _cyclic(pad_w, sw, x.device))

    windows = nh * nw
    x = x.view(B, nh, wh, nw, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B * windows, wh * ww, C)
    if logit_scale is not None and qkv_bias is not None:
        qkv_bias = qkv_bias.clone()
        length = qkv_bias.numel() // 3
        qkv_bias[length:2 * length].zero_()
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(x.size(0), x.size(1), 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if logit_scale is not None:  # V2's cosine attention
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * torch.clamp(logit_scale, max=math.log(100.0)).exp()
    else:
        q = q * (C // num_heads) ** -0.5
        attn = q.matmul(k.transpose(-2, -1))
    attn = attn + relative_position_bias

    # torchvision's mask: after the shift, the last window of a side holds pixels from both ends
    # of the map; each pixel gets a region (0, 1, 2 a side), and a pair from two regions is masked.
    rows = torch.arange(pad_h, device=x.device)
    cols = torch.arange(pad_w, device=x.device)
    row_region = (rows >= pad_h - wh).to(torch.int64) + (rows >= pad_h - sh).to(torch.int64)
    col_region = (cols >= pad_w - ww).to(torch.int64) + (cols >= pad_w - sw).to(torch.int64)
    region = (row_region[:, None] * 3 + col_region[None, :]).view(nh, wh, nw, ww)
    region = region.permute(0, 2, 1, 3).reshape(windows, wh * ww)
    mask = torch.where(region.unsqueeze(1) != region.unsqueeze(2), -100.0, 0.0).to(attn.dtype)
    attn = attn.view(x.size(0) // windows, windows, num_heads, x.size(1), x.size(1))
    attn = (attn + mask.unsqueeze(1).unsqueeze(0)).view(-1, num_heads, x.size(1), x.size(1))  # + 0: unshifted

    attn = F.softmax(attn, dim=-1)
    attn = F.dropout(attn, p=attention_dropout, training=training)
    x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), C)
    x = F.linear(x, proj_weight, proj_bias)
    x = F.dropout(x, p=dropout, training=training)

    x = x.view(B, nh, nw, wh, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B, pad_h, pad_w, C)
    x = x.index_select(1, _cyclic(pad_h, -sh, x.device)).index_select(2, _cyclic(pad_w, -sw, x.device))
    # the crop as a gather: a slice's result aliases, or not, depending on whether there was padding
    return x.index_select(1, torch.arange(H, device=x.device)).index_select(2, torch.arange(W, device=x.device))


torch.fx.wrap("window_attention")  # symbolic tracing records the call, as torchvision's own is recorded


class AnySizeWindowAttention(ShiftedWindowAttention):
    """torchvision's ``ShiftedWindowAttention``, computing with ``window_attention``."""

    def forward(self, x: Tensor) -> Tensor:
        return window_attention(x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
                                self.window_size, self.num_heads, shift_size=self.shift_size,
                                attention_dropout=self.attention_dropout, dropout=self.dropout,
                                qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, training=self.training)


class AnySizeWindowAttentionV2(ShiftedWindowAttentionV2):
    """torchvision's ``ShiftedWindowAttentionV2``, computing with ``window_attention``."""

    def forward(self, x: Tensor) -> Tensor:
        return window_attention(x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
                                self.window_size, self.num_heads, shift_size=self.shift_size,
                                attention_dropout=self.attention_dropout, dropout=self.dropout,
                                qkv_bias=self.qkv.bias, proj_bias=self.proj.bias,
                                logit_scale=self.logit_scale, training=self.training)


_SWAPS: dict[type[nn.Module], type[nn.Module]] = {ShiftedWindowAttention: AnySizeWindowAttention,
                                                   ShiftedWindowAttentionV2: AnySizeWindowAttentionV2}


def any_size_windows(model: nn.Module) -> int:
    """Give each of ``model``'s torchvision window attentions (exactly those classes, not a subclass
    of them) the class above that computes the same with ``window_attention``. In place: the
    modules, their parameters and the state dict stay; returns how many were swapped."""
    swapped = 0
    for module in model.modules():
        new = _SWAPS.get(type(module))
        if new is not None:
            module.__class__ = new
            swapped += 1
    return swapped


def two_window_side(pyramid: nn.Module, limit: int = 4096) -> int:
    """The smallest input side from which every level of a Swin ``pyramid`` (``backbone()``'s) is
    more than one window wide, by the size rule (``feature_info.sizes``). torch.export specialises
    a side of one window, as it does any size 1: a program exported at a square or oblong size with
    both sides at least this takes every such size, and refuses a smaller one with a guard error."""
    window = max((max(m.window_size) for m in pyramid.modules() if isinstance(m, ShiftedWindowAttention)),
                 default=None)
    if window is None:
        raise ValueError(f"two_window_side takes a Swin pyramid; {type(pyramid).__name__} has no window attention")
    levels = pyramid.feature_info
    if not isinstance(levels, Levels):
        raise ValueError(f"two_window_side takes backbone()'s pyramid; {type(pyramid).__name__} has no Levels")
    for side in range(window + 1, limit + 1):  # no level is wider than the input
        try:
            sizes = levels.sizes(side, side)
        except ValueError:  # too small: some level has no row left
            continue
        if all(min(h, w) > window for h, w in sizes):
            return side
    raise ValueError(f"no side up to {limit} gives every level more than {window} pixels")
