"""Real images for the chapters, from the samples that ship inside scikit-image (no download).

``sample_image`` turns one of them into the input an ImageNet-trained backbone expects: a
square crop of ``size`` pixels, scaled to [0, 1] and normalised with the ImageNet mean and
standard deviation, as a (1, 3, size, size) batch. ``denormalise`` undoes the normalisation
for display.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from backbones_tutorial.checks import check_choice

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "SAMPLE_IMAGES", "denormalise", "sample_image"]

# The per-channel statistics of ImageNet's training images (R, G, B), used by torchvision's weights.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# Colour photographs bundled with scikit-image (its ``data`` directory), so no network is needed.
SAMPLE_IMAGES: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket")


def _stats(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(IMAGENET_MEAN, dtype=like.dtype, device=like.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=like.dtype, device=like.device).view(3, 1, 1)
    return mean, std


def sample_image(name: str = "astronaut", size: int = 224) -> torch.Tensor:
    """A bundled scikit-image photograph as a normalised (1, 3, size, size) float32 batch.

    The shorter side is resized to ``size`` (bilinear, antialiased) and the centre is cropped to
    a square, so the result is the same on every run and every machine.
    """
    check_choice(name, SAMPLE_IMAGES, "sample image")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive int, the side of the square crop (e.g. 224); got {size!r}")
    try:
        from skimage import data
    except ImportError as err:
        raise ImportError(
            "sample_image needs scikit-image for its bundled photographs: pip install scikit-image "
            "(it is part of the book extra: pip install 'backbones-tutorial[book]')"
        ) from err

    pixels = torch.from_numpy(getattr(data, name)().copy())  # (H, W, 3) uint8
    image = pixels.permute(2, 0, 1).unsqueeze(0).float() / 255  # (1, 3, H, W) in [0, 1]
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    image = F.interpolate(image, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    image = image[..., top : top + size, left : left + size].clamp(0, 1)  # (1, 3, size, size)
    mean, std = _stats(image)
    return ((image - mean) / std).contiguous()


def denormalise(t: torch.Tensor) -> torch.Tensor:
    """Undo ``sample_image``'s normalisation: RGB values in [0, 1], same shape as ``t``.

    ``t`` is a (3, H, W) image or a (B, 3, H, W) batch; for ``imshow`` move the channels last,
    e.g. ``denormalise(x)[0].permute(1, 2, 0)``.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(
            f"denormalise expects a torch.Tensor of shape (3, H, W) or (B, 3, H, W), got {type(t).__name__}"
        )
    if t.dim() not in (3, 4) or t.shape[-3] != 3:
        raise ValueError(
            f"denormalise expects an RGB image (3, H, W) or batch (B, 3, H, W), got shape {tuple(t.shape)}"
        )
    if not t.is_floating_point():
        raise TypeError(f"denormalise expects a normalised float image (as sample_image returns), got {t.dtype}; "
                        f"a uint8 image is not normalised: show it as it is, or convert with t.float() / 255")
    mean, std = _stats(t)
    return (t * std + mean).clamp(0, 1)
