"""Companion package of the book "CNN backbones in PyTorch"."""

from .blocks import BasicBlock, Bottleneck, conv1x1, conv3x3, projection
from .extract import truncate
from .fpn import FPN, ResNetFPN, resnet50_fpn
from .freeze import freeze, unfreeze
from .predict import predict_shapes
from .pyramid import FeatureInfo, ResNetBackbone, ResNetFeatures, resnet_features
from .resnet import ResNet, resnet, resnet18, resnet34, resnet50, resnet101, resnet152
from .measure_claims import check_claim, claims_table, find_claim, measure

__all__ = [
    "BasicBlock", "Bottleneck", "conv1x1", "conv3x3", "projection",
    "ResNet", "resnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "truncate", "FeatureInfo", "ResNetFeatures", "ResNetBackbone", "resnet_features",
    "FPN", "ResNetFPN", "resnet50_fpn", "freeze", "unfreeze", "predict_shapes",
    "check_claim", "claims_table", "find_claim", "measure",
]

__version__ = "0.1.0"
