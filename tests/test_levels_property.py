"""The book's core promise, as a property: for every family, the declared level metadata
(``feature_info``) equals the real maps at random odd, non-square sizes, for the whole pyramid,
for every slice and for every selection; and a deliberately wrong stride fails the check."""

import dataclasses
import itertools
import random

import pytest
import torch
import torchvision
from conftest import LastThree

from backbones_tutorial.extractors.zoo import vgg16_blocks
from backbones_tutorial.pyramids.backbone import backbone
from backbones_tutorial.pyramids.fpn import PyramidFPN, ResNetFPN
from backbones_tutorial.pyramids.levels import Levels
from backbones_tutorial.pyramids.resnet import ResNetBackbone, resnet_features

pytestmark = pytest.mark.slow  # real forwards of every family at many sizes: make quick leaves them out

_rng = random.Random(19)  # seeded: the same 20 sizes on every run
# odd sides, never equal: 20 (H, W) pairs from 65 (VGG keeps its coarsest level) to 129 (cheap forwards)
_PAIRS = ((_rng.randrange(65, 131, 2), _rng.randrange(65, 131, 2)) for _ in range(40))
SIZES = [(h, w) for h, w in _PAIRS if h != w][:20]

PYRAMIDS = {
    "resnet18 (torchvision)": lambda: backbone("resnet18"),
    "resnet50 (ResNetFeatures)": lambda: resnet_features(50),
    "resnet34 (ResNetBackbone)": lambda: ResNetBackbone(torchvision.models.resnet34(weights=None)),
    "vgg16 (backbone)": lambda: backbone("vgg16"),
    "vgg16 (VGG16Blocks)": vgg16_blocks,
    "convnext_tiny": lambda: backbone("convnext_tiny"),
    "efficientnet_b0": lambda: backbone("efficientnet_b0"),
    "mobilenet_v3_small": lambda: backbone("mobilenet_v3_small"),
    "regnet_x_400mf": lambda: backbone("regnet_x_400mf"),
    "swin_t": lambda: backbone("swin_t"),
    "resnet18 FPN (ResNetFPN)": lambda: ResNetFPN(resnet_features(18), 32),
    "convnext_tiny FPN (PyramidFPN)": lambda: PyramidFPN(backbone("convnext_tiny"), 32),
    "swin_t sliced, FPN (PyramidFPN)": lambda: PyramidFPN(LastThree(backbone("swin_t")), 32),  # mixed rounding
}


@pytest.fixture(scope="module", params=list(PYRAMIDS))
def measured(request):
    """A family's pyramid and its real maps at every size of SIZES."""
    torch.manual_seed(0)
    pyramid = PYRAMIDS[request.param]().eval()
    with torch.no_grad():
        outs = {size: pyramid(torch.randn(1, 3, *size)) for size in SIZES}
    return pyramid, outs


def test_the_sizes_are_odd_and_not_square():
    assert len(SIZES) == 20 and all(h % 2 and w % 2 and h != w for h, w in SIZES)


def test_the_whole_pyramid_declares_the_real_maps(measured):
    pyramid, outs = measured
    for (h, w), maps in outs.items():
        pyramid.feature_info.check(maps, h, w)


def test_every_slice_declares_the_real_maps(measured):
    pyramid, outs = measured
    info = pyramid.feature_info
    n = len(info)
    for (h, w), maps in outs.items():
        for i, j in itertools.combinations(range(n + 1), 2):
            info[i:j].check(maps[i:j], h, w)


def test_every_selection_declares_the_real_maps(measured):
    pyramid, outs = measured
    info = pyramid.feature_info
    for (h, w), maps in outs.items():
        for k in range(1, len(info) + 1):
            for chosen in itertools.combinations(range(len(info)), k):
                selection = info.select([info[i].name for i in chosen])
                selection.check([maps[i] for i in chosen], h, w)


def test_a_planted_wrong_stride_fails_the_check(measured):
    """Double the coarsest level's stride: the declaration still looks valid, but the check must fail
    at every size (a side halved again differs from the real one for every side >= 65)."""
    pyramid, outs = measured
    info = pyramid.feature_info
    bad = dataclasses.replace(info[-1], reduction=2 * info[-1].reduction)
    chain = Levels(bad if f == info[-1] else f for f in info.chain)  # a sliced pyramid keeps its chain
    wrong = Levels([*info[:-1], bad], chain=chain)
    for (h, w), maps in outs.items():
        with pytest.raises(ValueError, match=rf"level {info[-1].name!r}.*declared"):
            wrong.check(maps, h, w)


def test_the_vit_pyramid_declares_its_maps_at_its_one_size():
    """ViT takes only its image_size (224): the property holds there, slices and selections included."""
    torch.manual_seed(0)
    pyramid = backbone("vit_b_16").eval()
    with torch.no_grad():
        maps = pyramid(torch.randn(1, 3, 224, 224))
    info = pyramid.feature_info
    info.check(maps, 224, 224)
    for i, j in itertools.combinations(range(len(info) + 1), 2):
        info[i:j].check(maps[i:j], 224, 224)
    with pytest.raises(ValueError, match="declared"):
        Levels([*info[:-1], dataclasses.replace(info[-1], reduction=64)]).check(maps, 224, 224)
