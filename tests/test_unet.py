"""The U-Net decoder: full-resolution logits at any size, on any pyramid that declares its levels."""

import pytest
import torch
from torch import nn

from backbones_tutorial.pyramids.levels import FeatureInfo, Levels
from backbones_tutorial.pyramids.resnet import resnet_features
from backbones_tutorial.segmentation.unet import UNet, UNetDecoder


class OddPyramid(nn.Module):
    """A tiny pyramid with channel counts no decoder could have typed in: 5, 7, 11 at /2, /4, /8."""

    feature_info = Levels([FeatureInfo("a", 5, 2), FeatureInfo("b", 7, 4), FeatureInfo("c", 11, 8)])

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 5, 3, stride=2, padding=1)
        self.b = nn.Conv2d(5, 7, 3, stride=2, padding=1)
        self.c = nn.Conv2d(7, 11, 3, stride=2, padding=1)

    def forward(self, x):
        a = self.a(x)
        b = self.b(a)
        return [a, b, self.c(b)]


@pytest.fixture(scope="module")
def backbones(shared_model):
    torch.manual_seed(0)
    return {"resnet18": shared_model("resnet18_features"), "resnet34": resnet_features(34).eval(),
            "vgg16_blocks": shared_model("vgg16_blocks"), "odd": OddPyramid().eval()}


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "vgg16_blocks", "odd"])
@pytest.mark.parametrize("size", [(33, 47), (65, 37)])
def test_logits_have_the_input_size_and_each_skip_meets_a_map_of_its_exact_size(backbones, name, size):
    backbone = backbones[name]
    model = UNet(backbone, num_classes=5).eval()
    seen = []
    hooks = [b.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape)) for b in model.decoder.blocks]
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        logits = model(x)
        features = backbone(x)  # what the backbone really returns (a real forward pass)
    for h in hooks:
        h.remove()
    assert logits.shape == (1, 5, *size)
    # the block after each skip gets the upsampled map concatenated with that level, at the level's size
    for shape, skip in zip(seen, reversed(features[:-1]), strict=True):
        assert shape[-2:] == skip.shape[-2:]
        assert shape[1] > skip.shape[1]  # the skip plus the upsampled coarser map


def test_the_decoder_reads_its_widths_from_feature_info():
    info = OddPyramid.feature_info
    decoder = UNetDecoder(info, num_classes=3, image_channels=4)
    first = decoder.blocks[0][0]  # after the coarsest level: its 11 channels plus level b's 7
    assert first.in_channels == 11 + 7
    assert decoder.head.out_channels == 3


def test_full_resolution_detail_reaches_the_logits():
    """One changed pixel changes the logits at that pixel: the image skip is at full resolution."""
    torch.manual_seed(0)
    model = UNet(OddPyramid(), num_classes=2).eval()
    x = torch.randn(1, 3, 33, 35)
    y = x.clone()
    y[0, :, 20, 11] += 5
    with torch.no_grad():
        diff = (model(x) - model(y)).abs().sum(dim=(0, 1))  # (H, W)
    assert diff[20, 11] > 0 and diff[0, 0] == 0


def test_a_backbone_without_feature_info_is_refused():
    with pytest.raises(TypeError, match="declares its levels in feature_info"):
        UNet(nn.Conv2d(3, 8, 3), num_classes=2)


def test_features_that_disagree_with_feature_info_are_named():
    decoder = UNetDecoder(OddPyramid.feature_info, num_classes=2)
    bad = [torch.zeros(1, 5, 8, 8), torch.zeros(1, 6, 4, 4), torch.zeros(1, 11, 2, 2)]
    with pytest.raises(ValueError, match=r"UNetDecoder level 1 expects \(B, 7, H, W\).*channels.*\[5, 7, 11\]"):
        decoder(torch.zeros(1, 3, 16, 16), bad)
