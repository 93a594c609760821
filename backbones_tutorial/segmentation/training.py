"""Train the U-Net on the synthetic task, evaluate it on the held-out set, and compare freezing.

The four ways to treat the backbone (``FREEZE_MODES``, the vocabulary of ``freeze()``): apart
from ``"none"``, each is ``freeze(backbone, names, batchnorm=mode)`` on all of the backbone's
children that hold parameters:

- ``"none"``: full fine-tuning, everything trains;
- ``"train"``: ``requires_grad_(False)`` only; BatchNorm is left in train mode, so it still
  normalises with each batch's statistics and keeps updating its running mean and variance (the pitfall);
- ``"frozen"``: and every BatchNorm replaced by torchvision's ``FrozenBatchNorm2d``;
- ``"eval"``: and every BatchNorm held in eval mode through ``model.train()``.

``bn_drift`` measures how far the backbone's running statistics moved during training: the mean
over all its BatchNorm channels of ``|mean - mean_0| / sqrt(var_0 + eps)``, the shift of each
channel's running mean in units of its initial standard deviation.
"""

from __future__ import annotations

import functools
import math
import pathlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from backbones_tutorial.checks import check_choice
from backbones_tutorial.extractors.freeze import freeze
from backbones_tutorial.extractors.freeze_modes import FREEZE_MODES
from backbones_tutorial.params import count_params
from backbones_tutorial.pyramids.levels import Levels
from backbones_tutorial.registry import SEGMENTATION_BACKBONES, build
from backbones_tutorial.segmentation import synthetic
from backbones_tutorial.segmentation.unet import UNet

__all__ = ["BACKBONES", "LOSSES", "Result", "TrainSettings", "bn_drift", "bn_stats", "build_model", "class_weights",
           "dice_loss", "fit", "iou_per_class", "loss_fn", "normalize", "predict", "pretrain",
           "segmentation_backbone", "segmentation_unet", "stat_shift", "train"]

# The backbones the command offers: each builds a randomly initialised pyramid with feature_info.
BACKBONES: dict[str, Callable[[], nn.Module]] = {  # randomly initialised pyramids, from the one registry
    name: functools.partial(build, model) for name, model in SEGMENTATION_BACKBONES.items()
}
MEAN, STD = 0.5, 0.25  # the synthetic images' pixels are in [0, 1]; the model sees (x - MEAN) / STD


def segmentation_backbone(name: str) -> nn.Module:
    """The pyramid ``name`` without its unused classifier (so that it counts no idle parameters)."""
    check_choice(name, BACKBONES, "backbone")
    backbone = BACKBONES[name]()
    if hasattr(backbone, "fc"):
        backbone.fc = nn.Identity()
    return backbone



def segmentation_unet(backbone: str = "resnet18") -> UNet:
    """Chapter 8's U-Net (as many classes as the synthetic task) on ``segmentation_backbone(backbone)``
    or, for ``"vgg16_blocks"``, on VGG16's five blocks: the models of the claims record."""
    from backbones_tutorial.extractors.zoo import vgg16_blocks

    body = vgg16_blocks() if backbone == "vgg16_blocks" else segmentation_backbone(backbone)
    return UNet(body, num_classes=len(synthetic.CLASSES))

def _check_number(name: str, value: object, low: float, kind: type = int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int) or value < low:
        raise ValueError(f"{name} must be {'a number' if kind is float else 'an int'} >= {low}, got {value!r}")


@dataclass(frozen=True)
class TrainSettings:
    """Everything a training run depends on; checked on construction."""

    backbone: str = "resnet18"
    freeze: str = "none"
    seed: int = 0
    seconds: float = 90.0  # wall-clock budget of the training loop
    max_steps: int = 100  # and a cap on the steps, whichever ends first
    batch_size: int = 8
    lr: float = 2e-3
    loss: str = "weighted-ce+dice"  # a key of LOSSES
    size: tuple[int, int] = synthetic.SIZE
    valid_images: int = 48
    pretrained: str | None = None  # a checkpoint written by ``pretrain`` (loaded with weights_only=True)

    def __post_init__(self) -> None:
        check_choice(self.backbone, BACKBONES, "backbone")
        check_choice(self.freeze, FREEZE_MODES, "freeze mode")
        check_choice(self.loss, LOSSES, "loss")
        _check_number("seed", self.seed, 0)
        _check_number("seconds", self.seconds, 0.1, float)
        _check_number("max_steps", self.max_steps, 1)
        _check_number("batch_size", self.batch_size, 2)  # BatchNorm needs more than one value per channel
        _check_number("lr", self.lr, 1e-8, float)
        _check_number("valid_images", self.valid_images, 1)
        synthetic.check_image_size(self.size)
        if self.pretrained is not None and not pathlib.Path(self.pretrained).is_file():
            raise ValueError(f"pretrained checkpoint {self.pretrained!r} is not a file; write one with "
                             f"`python -m backbones_tutorial pretrain --out PATH`")


@dataclass
class Result:
    settings: TrainSettings
    miou: float  # mean IoU over the object classes on the held-out set
    iou: dict[str, float]
    steps: int
    train_seconds: float
    seconds_per_step: float
    trainable_params: int
    total_params: int
    bn_drift: float
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (step, seconds, loss)

    def summary(self) -> dict[str, object]:
        """The JSON line of the command: everything but the loss history."""
        out = {k: v for k, v in asdict(self).items() if k not in ("history", "settings")}
        return {**asdict(self.settings), **out}


def normalize(images: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(images) - MEAN) / STD  # (B, 3, H, W)


def build_model(settings: TrainSettings) -> UNet:
    """A U-Net on the settings' backbone (pretrained if a checkpoint is given), frozen as asked."""
    torch.manual_seed(settings.seed)
    backbone = segmentation_backbone(settings.backbone)
    if settings.pretrained is not None:
        checkpoint = torch.load(settings.pretrained, map_location="cpu", weights_only=True)
        if checkpoint.get("backbone") != settings.backbone:
            raise ValueError(
                f"checkpoint {settings.pretrained} holds a {checkpoint.get('backbone')!r} backbone, "
                f"expected {settings.backbone!r}"
            )
        backbone.load_state_dict(checkpoint["state_dict"], strict=True)
    model = UNet(backbone, num_classes=len(synthetic.CLASSES))
    if settings.freeze != "none":
        names = [n for n, m in backbone.named_children() if any(True for _ in m.parameters())]
        freeze(backbone, names, batchnorm=settings.freeze)
    return model


def bn_stats(module: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """A copy of each BatchNorm's (or FrozenBatchNorm2d's) running mean and variance, by name."""
    kinds = (nn.BatchNorm2d, FrozenBatchNorm2d)
    return {n: (m.running_mean.clone(), m.running_var.clone())  # type: ignore[union-attr]
            for n, m in module.named_modules() if isinstance(m, kinds)}


def bn_drift(before: dict[str, tuple[torch.Tensor, torch.Tensor]],
             after: dict[str, tuple[torch.Tensor, torch.Tensor]], eps: float = 1e-5) -> float:
    """Mean over all channels of ``|mean - mean_0| / sqrt(var_0 + eps)`` (0.0 without BatchNorm)."""
    if before.keys() != after.keys():
        raise ValueError(f"the two records name different BatchNorm layers: {sorted(before)} vs {sorted(after)}")
    shifts = [((after[n][0] - m0).abs() / (v0 + eps).sqrt()) for n, (m0, v0) in before.items()]
    return float(torch.cat(shifts).mean()) if shifts else 0.0



@torch.no_grad()
def stat_shift(backbone: nn.Module, images: np.ndarray, eps: float = 1e-5) -> dict[str, float]:
    """How far ``images``' statistics are from the ones the backbone's BatchNorm layers store.

    Per top-level child holding BatchNorm: the mean over its BatchNorm channels of
    ``|m - running_mean| / sqrt(running_var + eps)``, where ``m`` is the channel's mean over the
    images and pixels, in eval mode (every layer normalised with its stored statistics). About
    0.1 on images like those the statistics came from; larger where the images differ.
    """
    shifts: dict[str, list[torch.Tensor]] = {}

    def record(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            m = args[0].mean(dim=(0, 2, 3))  # (C,)
            std = (module.running_var + eps).sqrt()  # type: ignore[operator,union-attr]
            shifts.setdefault(name, []).append((m - module.running_mean).abs() / std)  # type: ignore[operator]
        return hook

    hooks = [module.register_forward_pre_hook(record(name.split(".")[0]))
             for name, module in backbone.named_modules() if isinstance(module, nn.BatchNorm2d)]
    was_training = backbone.training
    try:
        backbone.eval()(normalize(images))
    finally:
        for h in hooks:
            h.remove()
        backbone.train(was_training)
    return {name: float(torch.cat(values).mean()) for name, values in shifts.items()}

def class_weights(masks: torch.Tensor, num_classes: int, power: float = 0.5) -> torch.Tensor:
    """Per-class weights ``share ** -power`` from the batch's own pixel shares, scaled so that the
    batch's mean weight per pixel is 1 (a class absent from the batch gets weight 0: it has no pixels)."""
    counts = torch.bincount(masks.reshape(-1), minlength=num_classes).double()  # (K,)
    share = counts / counts.sum()
    weights = torch.where(counts > 0, share.clamp_min(1e-12) ** -power, torch.zeros_like(share))
    return (weights / (weights * share).sum()).float()  # sum_k share_k * w_k = 1


def dice_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice, averaged over the object classes (each class weighs the same, whatever its size)."""
    probs = logits.softmax(dim=1)[:, 1:]  # (B, K-1, H, W)
    onehot = F.one_hot(masks, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].float()  # (B, K-1, H, W)
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    dice = 1 - (2 * inter + 1) / (probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3)) + 1)
    return dice.mean()


def _ce_dice(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, masks) + dice_loss(logits, masks)


def _weighted_ce_dice(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    weight = class_weights(masks, logits.shape[1]).to(logits.device)
    return F.cross_entropy(logits, masks, weight=weight) + dice_loss(logits, masks)


# The training losses (``TrainSettings.loss``). ``weighted-ce+dice`` is the default: with plain
# cross-entropy plus Dice not one line pixel (lines are under 1% of the pixels) was found for two
# of five seeds; weighting the cross-entropy by each class's share to the power -1/2 fixed that.
# The record: book/data/losses.json (tools/compare_losses.py), read and checked by chapter 8 and
# tests/test_segment.py.
LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "weighted-ce+dice": _weighted_ce_dice,
    "ce+dice": _ce_dice,
}


def loss_fn(logits: torch.Tensor, masks: torch.Tensor, loss: str = "weighted-ce+dice") -> torch.Tensor:
    """The training loss ``loss`` (a key of ``LOSSES``) of logits (B, K, H, W) against masks (B, H, W)."""
    check_choice(loss, LOSSES, "loss")
    return LOSSES[loss](logits, masks)


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Class index per pixel (N, H, W) for images (N, 3, H, W) in [0, 1], in eval mode."""
    was_training = model.training
    model.eval()
    out = [model(normalize(images[i:i + batch_size])).argmax(dim=1) for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(out).numpy()


def iou_per_class(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """IoU of each object class over the whole set (intersections and unions summed over images)."""
    out = {}
    for k, name in enumerate(synthetic.CLASSES[1:], start=1):
        union = np.logical_or(pred == k, target == k).sum()
        out[name] = float(np.logical_and(pred == k, target == k).sum() / union) if union else float("nan")
    return out


def fit(model: nn.Module, settings: TrainSettings, progress: Callable[[str], None] | None = None,
        stream: str = "train", loss: Callable[[torch.Tensor, synthetic.Batch], torch.Tensor] | None = None,
        ) -> list[tuple[int, float, float]]:
    """Train ``model`` for ``settings.seconds`` or ``settings.max_steps`` steps, whichever ends
    first, on fresh batches of ``stream``; returns the history (step, seconds, loss)."""
    loss = loss or (lambda logits, batch: loss_fn(logits, torch.from_numpy(batch.masks), settings.loss))
    rng = synthetic.rng_for(stream, settings.seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.lr,
                                  weight_decay=1e-4)
    model.train()
    history: list[tuple[int, float, float]] = []
    step, start, last_report = 0, time.perf_counter(), 0.0
    while True:
        done = max(step / settings.max_steps, (time.perf_counter() - start) / settings.seconds)
        if done >= 1:  # the larger share of either budget
            break
        for group in optimizer.param_groups:  # cosine decay over whichever budget runs out first
            group["lr"] = settings.lr * 0.5 * (1 + math.cos(math.pi * done))
        batch = synthetic.dataset_from(rng, settings.batch_size, settings.size, synthetic.STYLES[stream])
        value = loss(model(normalize(batch.images)), batch)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        step += 1
        history.append((step, time.perf_counter() - start, value.item()))
        if progress is not None and (history[-1][1] - last_report >= 5 or step == 1):
            last_report = history[-1][1]
            progress(f"step {step:4d}  {last_report:5.1f} s  loss {history[-1][2]:.3f}")
    return history


def train(settings: TrainSettings, progress: Callable[[str], None] | None = None) -> Result:
    """Build the model, train it (see ``fit``), then evaluate it on the held-out set."""
    model = build_model(settings)
    valid = synthetic.validation_set(settings.valid_images, settings.size)
    before = bn_stats(model.backbone)
    history = fit(model, settings, progress)
    train_seconds = history[-1][1]
    drift = bn_drift(before, bn_stats(model.backbone))
    iou = iou_per_class(predict(model, valid.images), valid.masks)
    result = Result(settings, float(np.nanmean(list(iou.values()))), iou, len(history), train_seconds,
                    train_seconds / len(history), count_params(model, trainable_only=True), count_params(model),
                    drift, history)
    result.model = model  # type: ignore[attr-defined]  # for the chapter's figures; not part of the record
    return result


class _PresenceHead(nn.Module):
    """Pretraining head: from the coarsest level to the share of the image each class covers."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        info = cast(Levels, backbone.feature_info)
        self.fc = nn.Linear(info[-1].channels, len(synthetic.CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        coarsest = self.backbone(x)[-1]  # (B, C, H/32, W/32)
        return self.fc(coarsest.mean(dim=(2, 3)))  # (B, K)


def pretrain(settings: TrainSettings, out: str | pathlib.Path, progress: Callable[[str], None] | None = None) -> dict:
    """Pretrain the backbone on a related image-level task and save it to ``out``.

    The task: from a "pretrain"-stream image (the same shapes and hues in another style,
    ``synthetic.PRETRAIN``: brighter, more strongly striped backgrounds, darker and noisier
    objects; seeds never used for the segmentation runs), predict the share of its pixels that
    each class covers (a soft-label cross-entropy; no masks reach the model). It stands in for
    ImageNet classification, which also teaches features from image-level labels, in other
    pixel statistics than the target's, at a tiny fraction of the data and variety.
    """
    torch.manual_seed(settings.seed)
    model = _PresenceHead(segmentation_backbone(settings.backbone))

    def share_loss(logits: torch.Tensor, batch: synthetic.Batch) -> torch.Tensor:
        counts = np.stack([np.bincount(m.ravel(), minlength=len(synthetic.CLASSES)) for m in batch.masks])
        shares = torch.from_numpy(counts / counts.sum(axis=1, keepdims=True)).float()  # (B, K)
        return F.cross_entropy(logits, shares)

    history = fit(model, settings, progress, stream="pretrain", loss=share_loss)
    record = {"backbone": settings.backbone, "state_dict": model.backbone.state_dict(), "steps": len(history),
              "seed": settings.seed, "batch_size": settings.batch_size,
              "task": "share of pixels per class, synthetic 'pretrain' stream"}
    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(record, out)
    return {k: v for k, v in record.items() if k != "state_dict"} | {"train_seconds": history[-1][1],
                                                                        "final_loss": history[-1][2]}
