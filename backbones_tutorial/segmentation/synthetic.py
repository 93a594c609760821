"""A synthetic segmentation task drawn from a seed, so that the book can train offline.

Each image has a textured, nearly grey background (a random grey level, stripes of random
frequency and orientation, smooth blotches, pixel noise) and a few objects of four classes,
each painted in its class's colour (``PALETTE``) with a random brightness and slight noise,
later objects covering earlier ones. The mask holds, per pixel, the class of the topmost object
or 0 for the background. Objects are small (a circle may have a radius of 2 pixels) and lines
are 1 to 2 pixels wide: a decoder that only sees the stride-32 map cannot draw them.

The training stream and the held-out set come from different seed sequences
(``numpy.random.default_rng([stream, seed])``), so no training seed reproduces the held-out set.

The "pretrain" stream is drawn in another ``Style``: the same classes, shapes and hues on a
bright, strongly striped background, with darker, noisier objects. A backbone pretrained there
meets other pixel statistics in the target task (as ImageNet weights meet medical or satellite
images), so its BatchNorm running statistics are not the target's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from backbones_tutorial.checks import is_int

__all__ = ["Batch", "CLASSES", "PALETTE", "PRETRAIN", "SIZE", "STREAMS", "STYLES", "Style", "TARGET", "VALID_SEED",
           "check_image_size", "dataset", "dataset_from", "draw", "rng_for", "validation_set"]

CLASSES = ("background", "circle", "rectangle", "triangle", "line")
PALETTE = np.array([  # RGB in [0, 1] of each object class; the background is grey (index 0 unused)
    (0.5, 0.5, 0.5),
    (0.9, 0.25, 0.2),  # circle: red
    (0.2, 0.8, 0.3),  # rectangle: green
    (0.25, 0.35, 0.95),  # triangle: blue
    (0.95, 0.85, 0.15),  # line: yellow
])
SIZE = (67, 83)  # default image height and width: deliberately not multiples of 32
STREAMS = {"train": 0, "valid": 1, "pretrain": 2}  # the first entry of each seed sequence
VALID_SEED = 0  # the held-out set is always the same: stream "valid", seed 0


@dataclass(frozen=True)
class Style:
    """The pixel statistics of a stream: ranges of uniform draws, and noise levels."""

    level: tuple[float, float] = (0.25, 0.7)  # the background's grey level
    stripes: tuple[float, float] = (0.03, 0.12)  # the amplitude of its stripes
    brightness: tuple[float, float] = (0.75, 1.05)  # each object's colour is PALETTE[class] times this
    noise: float = 0.03  # standard deviation of the per-pixel noise on objects
    name: str = field(default="target", compare=False)


TARGET = Style()
PRETRAIN = Style(level=(0.65, 0.9), stripes=(0.1, 0.25), brightness=(0.45, 0.7), noise=0.08, name="pretrain")
STYLES = {"train": TARGET, "valid": TARGET, "pretrain": PRETRAIN}  # the style of each stream


@dataclass(frozen=True)
class Batch:
    images: np.ndarray  # (N, 3, H, W) float32 in [0, 1]
    masks: np.ndarray  # (N, H, W) int64, an index into CLASSES


def rng_for(stream: str, seed: int) -> np.random.Generator:
    """The random generator of one stream ("train", "valid", "pretrain") and seed."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; valid choices: {', '.join(map(repr, STREAMS))}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng([STREAMS[stream], int(seed)])


def _background(rng: np.random.Generator, h: int, w: int, style: Style = TARGET) -> np.ndarray:
    """A (3, H, W) grey texture: level, stripes, blotches and noise, with a faint tint."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    level = rng.uniform(*style.level)
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 20)
    stripes = rng.uniform(*style.stripes) * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    coarse = rng.normal(0, 0.08, (h // 8 + 2, w // 8 + 2))  # blotches: coarse noise, upsampled
    blotches = np.kron(coarse, np.ones((8, 8)))[:h, :w]
    grey = level + stripes + blotches + rng.normal(0, 0.03, (h, w))  # (H, W)
    tint = rng.uniform(-0.03, 0.03, 3)[:, None, None]
    return grey[None] + tint  # (3, H, W)


def _shape_mask(rng: np.random.Generator, cls: int, h: int, w: int) -> np.ndarray:
    """A boolean (H, W) mask of one object of class ``cls`` at a random place and size."""
    yy, xx = np.mgrid[0:h, 0:w] + 0.5  # pixel centres
    side = min(h, w)
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    if CLASSES[cls] == "circle":
        r = rng.uniform(2, side / 6)
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    if CLASSES[cls] == "rectangle":
        hh, hw = rng.uniform(2, side / 5, 2)  # half sides
        return (np.abs(yy - cy) <= hh) & (np.abs(xx - cx) <= hw)
    if CLASSES[cls] == "triangle":
        while True:  # three corners around the centre, rejected if the triangle is too thin
            r = rng.uniform(4, side / 4)
            angles = rng.uniform(0, 2 * np.pi, 3)
            py, px = cy + r * np.sin(angles), cx + r * np.cos(angles)
            area = 0.5 * abs((px[1] - px[0]) * (py[2] - py[0]) - (px[2] - px[0]) * (py[1] - py[0]))
            if area >= 0.3 * r * r:
                break
        signs = [(xx - px[i]) * (py[(i + 1) % 3] - py[i]) - (yy - py[i]) * (px[(i + 1) % 3] - px[i]) for i in range(3)]
        return (np.all([s >= 0 for s in signs], axis=0)) | (np.all([s <= 0 for s in signs], axis=0))
    # a line: the pixels within half its width of a segment
    length, angle, width = rng.uniform(side / 4, side / 1.5), rng.uniform(0, np.pi), rng.uniform(1.0, 2.0)
    dy, dx = np.sin(angle), np.cos(angle)
    t = np.clip((yy - cy) * dy + (xx - cx) * dx, -length / 2, length / 2)  # position along the segment
    return (yy - cy - t * dy) ** 2 + (xx - cx - t * dx) ** 2 <= (width / 2) ** 2


def draw(rng: np.random.Generator, size: tuple[int, int] = SIZE, objects: tuple[int, int] = (2, 6),
         style: Style = TARGET) -> Batch:
    """One image and its mask, with between ``objects[0]`` and ``objects[1]`` objects: distinct
    classes first, then classes at random."""
    h, w = size
    image = _background(rng, h, w, style)  # (3, H, W)
    mask = np.zeros((h, w), dtype=np.int64)
    n = int(rng.integers(objects[0], objects[1] + 1))
    classes = rng.permutation(np.arange(1, len(CLASSES)))[:n].tolist()
    classes += rng.integers(1, len(CLASSES), max(0, n - len(classes))).tolist()
    for cls in rng.permutation(classes):
        region = _shape_mask(rng, int(cls), h, w)
        colour = PALETTE[cls] * rng.uniform(*style.brightness)
        image[:, region] = colour[:, None] + rng.normal(0, style.noise, (3, int(region.sum())))
        mask[region] = cls
    return Batch(np.clip(image, 0, 1).astype(np.float32)[None], mask[None])


def dataset(stream: str, seed: int, n: int, size: tuple[int, int] = SIZE) -> Batch:
    """``n`` images and masks of one stream and seed: the same arrays for the same arguments."""
    check_image_size(size)
    if not is_int(n):
        raise ValueError(f"n must be a positive int, got {n!r}")
    return dataset_from(rng_for(stream, seed), n, size, STYLES[stream])


def dataset_from(rng: np.random.Generator, n: int, size: tuple[int, int] = SIZE, style: Style = TARGET) -> Batch:
    """The next ``n`` images and masks drawn from ``rng`` (a training stream, batch by batch)."""
    batches = [draw(rng, size, style=style) for _ in range(n)]
    return Batch(np.concatenate([b.images for b in batches]), np.concatenate([b.masks for b in batches]))


def validation_set(n: int = 48, size: tuple[int, int] = SIZE) -> Batch:
    """The fixed held-out set: the "valid" stream with seed ``VALID_SEED``, never a training seed."""
    return dataset("valid", VALID_SEED, n, size)


def check_image_size(size: tuple[int, int]) -> None:
    """Raise unless ``size`` is (height, width), each an int of at least 32."""
    ok = isinstance(size, (tuple, list)) and len(size) == 2
    if not ok or not all(is_int(s, 32) for s in size):
        raise ValueError(f"size must be (height, width), each an int >= 32, got {size!r}")
