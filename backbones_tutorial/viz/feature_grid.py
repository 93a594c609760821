"""Chapter 3: one feature map, one small image per channel."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure

__all__ = ["feature_grid"]


def feature_grid(features: torch.Tensor, n: int = 64, ncols: int = 8, title: str | None = None) -> Figure:
    """The first ``n`` channels of one feature map (1, C, H, W), one small image per channel.

    Each channel gets its own colour scale (channels differ widely in range), so the grid shows
    where each channel responds, not how strongly compared with the others. If the map has fewer
    than ``n`` channels, all of them are shown; there is one Axes per channel shown. As with the
    other figures, the Figure is not registered with pyplot: make it a cell's last value.
    """
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"feature_grid expects a torch.Tensor of shape (1, C, H, W), got {type(features).__name__}")
    if features.dim() != 4 or features.shape[0] != 1:
        hint = " (add a batch dimension: features.unsqueeze(0))" if features.dim() == 3 else ""
        hint = " (pick one sample: features[:1])" if features.dim() == 4 else hint
        raise ValueError(
            f"feature_grid expects one feature map of shape (1, C, H, W), got shape {tuple(features.shape)}{hint}"
        )
    for arg, value in (("n", n), ("ncols", ncols)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{arg} must be a positive int, got {value!r}")

    maps = features[0].detach().to("cpu", torch.float32)  # (C, H, W)
    channels, height, width = maps.shape
    shown = min(n, channels)
    cols = min(ncols, shown)
    rows = -(-shown // cols)  # ceil
    fig = Figure(figsize=(1.3 * cols, 1.3 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        if i >= shown:
            ax.remove()  # an empty cell of the last row
            continue
        ax.imshow(maps[i].numpy(), cmap="viridis", interpolation="nearest")
        ax.set_title(str(i), fontsize=7, pad=2)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title if title is not None else f"channels 0-{shown - 1} of {channels}, each {height} x {width}")
    return fig
