"""The DeepLab head: torchvision's DeepLabHead computed by our modules, logits at the size the size
rule gives for the coarsest level of an output-stride-8 (or 16) pyramid, upsampled to the input."""

from __future__ import annotations

import functools
import random

import pytest
import torch
from conftest import uninitialised
from test_backbones import randomise
from torch import nn
from torchvision.models.segmentation.deeplabv3 import DeepLabHead as TorchvisionHead

from backbones_tutorial.pyramids.backbone import backbone, build_torchvision
from backbones_tutorial.segmentation.deeplab import DeepLab, DeepLabHead


@functools.cache
def segmenter(output_stride: int) -> DeepLab:
    torch.manual_seed(0)
    pyramid = backbone(randomise(uninitialised(build_torchvision, "resnet18")), output_stride=output_stride)
    return DeepLab(pyramid, num_classes=5).eval()


def test_our_head_is_torchvisions_deeplab_head_bit_for_bit():
    torch.manual_seed(0)
    ours, theirs = DeepLabHead(32, 5, (12, 24, 36)), TorchvisionHead(32, 5, (12, 24, 36))
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 32, 9, 13)
    with torch.no_grad():
        a, b = ours.eval()(x), theirs.eval()(x)
    assert a.shape == (2, 5, 9, 13) and a.std() > 0 and torch.equal(a, b)


@pytest.mark.parametrize(("output_stride", "rates"), [(8, (12, 24, 36)), (16, (6, 12, 18))])
def test_default_atrous_rates_are_deeplabv3s_for_the_output_stride(output_stride, rates):
    aspp = segmenter(output_stride).head[0]
    dilated = [m.dilation[0] for m in aspp.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert tuple(dilated) == rates


@pytest.mark.parametrize("output_stride", [8, 16])
def test_logits_follow_the_size_rule_at_random_odd_sizes(output_stride):
    model = segmenter(output_stride)
    rng = random.Random(output_stride)
    for _ in range(3):
        h, w = rng.randrange(33, 99, 2), rng.randrange(33, 99, 2)
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            coarse = model.head(model.backbone(x)[-1])
            out = model(x)
        # ResNet rounds up at every stride-2 layer: the coarsest side is ceil(n / output_stride)
        assert model.coarse_size(h, w) == (-(-h // output_stride), -(-w // output_stride))
        assert tuple(coarse.shape) == (1, 5, *model.coarse_size(h, w))
        assert tuple(out.shape) == (1, 5, h, w)


def test_a_training_step_reaches_the_dilated_stages():
    torch.manual_seed(0)
    model = DeepLab(backbone("resnet18", output_stride=8), num_classes=3).train()
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 41, 37)), torch.randint(0, 3, (2, 41, 37)))
    loss.backward()
    grad = model.backbone.body.layer4[1].conv2.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
