"""Every misuse a new user might try gets a clear error from the package, and valid edge cases pass.

Each case states the exception type and words the message must hold: the offending value and
the expectation. A case that raises nothing (silent acceptance) fails, and so does one whose
error comes from inside torch with other words. Models that only need to refuse an input are
built on the meta device (the checks run before any computation); the valid cases run real
forward passes on zero-filled or tiny models.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from backbones_tutorial.__main__ import main
from backbones_tutorial.data import denormalise, sample_image
from backbones_tutorial.display import Table, fmt_int, fmt_shape, prose, show_source
from backbones_tutorial.extractors.cut import child_table, truncate, up_to
from backbones_tutorial.extractors.freeze import freeze, unfreeze
from backbones_tutorial.extractors.methods import HookExtractor, build_extractor
from backbones_tutorial.extractors.zoo import VGG16Blocks, maxpool_indices
from backbones_tutorial.models.blocks import BasicBlock, Bottleneck, conv1x1, conv3x3, projection
from backbones_tutorial.models.resnet import ResNet, resnet, resnet18, resnet_feature_info
from backbones_tutorial.pyramids.backbone import backbone
from backbones_tutorial.pyramids.contract import Padding, contract, pad_to_multiple
from backbones_tutorial.pyramids.fpn import FPN, PyramidFPN, ResNetFPN, resnet50_fpn
from backbones_tutorial.pyramids.resnet import ResNetBackbone, resnet_features
from backbones_tutorial.segmentation import synthetic
from backbones_tutorial.segmentation.deeplab import DeepLab
from backbones_tutorial.segmentation.training import TrainSettings
from backbones_tutorial.segmentation.unet import UNet, UNetDecoder
from backbones_tutorial.shapes.measure import check_claim, claims_table, find_claim, measure
from backbones_tutorial.shapes.predict import SizeTooSmall, checked_prediction, minimum_size, predict_shapes


def on_meta(factory, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return factory(*args, **kwargs).eval()


@functools.cache
def model(name: str) -> nn.Module:
    """The models whose input is checked, on the meta device (read only)."""
    return {
        "ResNet": lambda: on_meta(resnet18),
        "ResNetFeatures": lambda: on_meta(resnet_features, 18),
        "ResNetBackbone": lambda: on_meta(lambda: ResNetBackbone(torchvision.models.resnet18())),
        "ResNetFPN": lambda: on_meta(lambda: ResNetFPN(resnet_features(18), 8)),
        "VGG16Blocks": lambda: on_meta(lambda: VGG16Blocks(torchvision.models.vgg16())),
        "BasicBlock": lambda: on_meta(BasicBlock, 64, 64),
        "Bottleneck": lambda: on_meta(Bottleneck, 256, 64),
    }[name]()


@functools.cache
def tv18() -> nn.Module:
    return on_meta(torchvision.models.resnet18)


CHANNELS = {"BasicBlock": 64, "Bottleneck": 256}
SIDE = {"VGG16Blocks": 32}


def batch(name: str, shape: str = "ok", dtype: torch.dtype = torch.float32) -> object:
    c, n = CHANNELS.get(name, 3), SIDE.get(name, 8)
    return {
        "ok": lambda: torch.zeros(2, c, n, n, dtype=dtype),
        "numpy": lambda: np.zeros((2, c, n, n), dtype=np.float32),
        "list": lambda: [[0.0] * n] * n,
        "2d": lambda: torch.zeros(n, n),
        "3d": lambda: torch.zeros(c, n, n),
        "5d": lambda: torch.zeros(1, 2, c, n, n),
        "channels": lambda: torch.zeros(2, 1, n, n),
        "nhwc": lambda: torch.zeros(2, n, n, c),
        "empty": lambda: torch.zeros(2, c, 0, n),
    }[shape]()


@dataclass(frozen=True)
class Case:
    call: object  # a function of no arguments that must raise
    error: type[BaseException]
    words: tuple[str, ...]  # what the message must contain: the offending value and the expectation


def case(error, *words):
    return lambda call: Case(call, error, words)


CASES: dict[str, Case] = {}

# Tensor inputs at every model entry: type, rank, channels, size and dtype.
for name in ("ResNet", "ResNetFeatures", "ResNetBackbone", "ResNetFPN", "VGG16Blocks", "BasicBlock", "Bottleneck"):
    c = CHANNELS.get(name, 3)
    for shape, error, words in (
        ("numpy", TypeError, ("torch.Tensor", "ndarray", f"(B, {c}, H, W)")),
        ("list", TypeError, ("torch.Tensor", "got list")),
        ("2d", ValueError, ("4-D batch", "2-D tensor")),
        ("3d", ValueError, ("4-D batch", "3-D tensor", "x.unsqueeze(0)")),
        ("5d", ValueError, ("4-D batch", "5-D tensor")),
        ("channels", ValueError, (f"expects {c} input channels", "got 1")),
        ("nhwc", ValueError, (f"expects {c} input channels", "x.permute(0, 3, 1, 2)")),
        ("empty", ValueError, ("H and W of at least", ", 0, ")),
    ):
        CASES[f"{name}-input-{shape}"] = case(error, name, *words)(
            lambda name=name, shape=shape: model(name)(batch(name, shape)))
    for dtype, words in (
        (torch.uint8, ("torch.uint8", "x.float() / 255", "normalise")),
        (torch.int64, ("torch.int64", "x.to(torch.float32)")),
        (torch.float16, ("torch.float16", "x.to(torch.float32)", "model.to(torch.float16)")),
        (torch.float64, ("torch.float64", "x.to(torch.float32)")),
        (torch.bool, ("torch.bool", "x.to(torch.float32)")),
    ):
        CASES[f"{name}-dtype-{dtype}"] = case(TypeError, name, "expects a torch.float32 input", *words)(
            lambda name=name, dtype=dtype: model(name)(batch(name, "ok", dtype)))
CASES["VGG16Blocks-input-31"] = case(ValueError, "VGG16Blocks", "at least 32", "31")(
    lambda: model("VGG16Blocks")(torch.zeros(1, 3, 31, 64)))

# Blocks and convolutions: positive ints, a module as downsample, and a shortcut that fits.
for label, call, error, words in (
    ("conv3x3-in", lambda: conv3x3(0, 64), ValueError, ("in_planes", ">= 1", "got 0")),
    ("conv1x1-out", lambda: conv1x1(64, -1), ValueError, ("out_planes", ">= 1", "got -1")),
    ("projection-stride", lambda: projection(64, 128, 0), ValueError, ("stride", ">= 1", "got 0")),
    ("conv3x3-float", lambda: conv3x3(64.0, 64), TypeError, ("in_planes", "int", "float 64.0")),
    ("BasicBlock-inplanes", lambda: BasicBlock(0, 64), ValueError, ("in_planes", "got 0")),
    ("BasicBlock-planes", lambda: BasicBlock(64, -2), ValueError, ("out_planes", "got -2")),
    ("BasicBlock-stride", lambda: BasicBlock(64, 64, stride=0), ValueError, ("stride", "got 0")),
    ("BasicBlock-bool", lambda: BasicBlock(True, 64), TypeError, ("in_planes", "bool True")),
    ("BasicBlock-downsample", lambda: BasicBlock(64, 128, 2, downsample="projection"), TypeError,
     ("downsample must be an nn.Module", "projection(64, 128, 2)", "got str")),
    ("Bottleneck-planes", lambda: Bottleneck(256, 0), ValueError, ("out_planes", "got 0")),
    ("Bottleneck-stride", lambda: Bottleneck(256, 64, stride=1.5), TypeError, ("stride", "float 1.5")),
    ("Bottleneck-downsample", lambda: Bottleneck(64, 64, downsample=3), TypeError, ("downsample", "got int")),
    ("BasicBlock-no-projection", lambda: BasicBlock(64, 128, stride=2)(torch.zeros(1, 64, 8, 8)), RuntimeError,
     ("[1, 128, 4, 4]", "[1, 64, 8, 8]", "downsample=projection(64, 128, 2)")),
    ("Bottleneck-no-projection", lambda: Bottleneck(64, 64)(torch.zeros(1, 64, 4, 4)), RuntimeError,
     ("[1, 256, 4, 4]", "[1, 64, 4, 4]", "downsample=projection(64, 256, 1)")),
    ("Bottleneck-wrong-projection",
     lambda: Bottleneck(64, 64, stride=2, downsample=projection(64, 256, 1))(torch.zeros(1, 64, 4, 4)),
     RuntimeError, ("[1, 256, 2, 2]", "[1, 256, 4, 4]", "downsample=projection(256, 256, 2)")),
):
    CASES[label] = Case(call, error, words)

# ResNet and its factories.
for label, kwargs, error, words in (
    ("num_classes-0", {"num_classes": 0}, ValueError, ("num_classes", ">= 1", "got 0")),
    ("num_classes-negative", {"num_classes": -5}, ValueError, ("num_classes", "got -5")),
    ("num_classes-bool", {"num_classes": True}, TypeError, ("num_classes", "bool True")),
    ("num_classes-float", {"num_classes": 10.0}, TypeError, ("num_classes", "float 10.0")),
    ("in_channels-0", {"in_channels": 0}, ValueError, ("in_channels", "got 0")),
    ("in_channels-str", {"in_channels": "3"}, TypeError, ("in_channels", "str '3'")),
    ("zero_init-str", {"zero_init_residual": "yes"}, TypeError, ("zero_init_residual", "True or False", "'yes'")),
    ("norm_layer-instance", {"norm_layer": nn.BatchNorm2d(64)}, TypeError,
     ("norm_layer", "nn.BatchNorm2d", "BatchNorm2d(64")),
):
    CASES[f"resnet18-{label}"] = Case(lambda kwargs=kwargs: resnet18(**kwargs), error, words)
for label, layers, words in (
    ("three", [2, 2, 2], ("[2, 2, 2]",)),
    ("zero", [2, 2, 2, 0], ("[2, 2, 2, 0]",)),
    ("bool", [2, 2, 2, True], ("[2, 2, 2, True]",)),
    ("str", "2222", ("'2222'",)),
):
    CASES[f"ResNet-layers-{label}"] = Case(lambda layers=layers: ResNet(BasicBlock, layers), ValueError,
                                           ("four positive block counts", *words))
CASES["ResNet-block"] = case(TypeError, "BasicBlock or Bottleneck", "Conv2d")(lambda: ResNet(nn.Conv2d, [2, 2, 2, 2]))
for label, depth, words in (("20", 20, ("20",)), ("bool", True, ("True",)), ("str", "18", ("'18'",))):
    CASES[f"resnet-depth-{label}"] = case(ValueError, "unknown ResNet depth", *words, "valid choices: 18, 34")(
        lambda depth=depth: resnet(depth))
    CASES[f"resnet_features-depth-{label}"] = case(ValueError, "unknown ResNet depth", *words, "152")(
        lambda depth=depth: resnet_features(depth))
CASES["resnet_features-num_classes"] = case(ValueError, "num_classes", "got 0")(
    lambda: resnet_features(18, num_classes=0))
CASES["ResNetBackbone-type"] = case(TypeError, "torchvision.models.ResNet", "got str")(
    lambda: ResNetBackbone("resnet18"))
CASES["resnet_feature_info-vgg"] = case(TypeError, "expects a ResNet", "got VGG without conv1, maxpool")(
    lambda: resnet_feature_info(on_meta(torchvision.models.vgg11)))
CASES["ResNetBackbone-vgg"] = case(TypeError, "torchvision.models.ResNet", "got VGG")(
    lambda: ResNetBackbone(on_meta(torchvision.models.vgg11)))

# The FPN: its construction and its pyramid input.
for label, args, error, words in (
    ("empty", ([], 8), ValueError, ("in_channels_list", "positive channel counts", "[]")),
    ("zero", ([0, 8], 8), ValueError, ("in_channels_list", "[0, 8]")),
    ("bool", ([True, 8], 8), ValueError, ("in_channels_list", "[True, 8]")),
    ("str", ("abc", 8), ValueError, ("in_channels_list", "'abc'")),
    ("out-zero", ([8, 16], 0), ValueError, ("out_channels", ">= 1", "got 0")),
    ("out-float", ([8, 16], 2.5), TypeError, ("out_channels", "float 2.5")),
):
    CASES[f"FPN-{label}"] = Case(lambda args=args: FPN(*args), error, words)


@functools.cache
def tiny_fpn() -> FPN:
    return FPN([4, 8], 2).eval()


def levels(*specs):
    return [torch.zeros(*s) for s in specs]


for label, features, error, words in (
    ("dict", lambda: OrderedDict(c2=torch.zeros(1, 4, 8, 8), c3=torch.zeros(1, 8, 4, 4)), TypeError,
     ("got a dict", "['c2', 'c3']", "list(d.values())")),
    ("tensor", lambda: torch.zeros(1, 4, 8, 8), TypeError, ("list of 2 feature maps", "got Tensor")),
    ("count", lambda: levels((1, 4, 8, 8)), ValueError, ("expects 2 feature maps", "got 1")),
    ("channels", lambda: levels((1, 4, 8, 8), (1, 4, 4, 4)), ValueError, ("level 1", "(B, 8, H, W)", "(1, 4, 4, 4)")),
    ("coarse-to-fine", lambda: levels((1, 4, 4, 4), (1, 8, 8, 8)), ValueError,
     ("fine to coarse", "level 1 (8, 8)", "level 0 (4, 4)", "reverse")),
    ("batch", lambda: levels((2, 4, 8, 8), (1, 8, 4, 4)), ValueError,
     ("one batch size", "level 0 has 2", "level 1 has 1")),
    ("rank", lambda: levels((4, 8, 8), (1, 8, 4, 4)), ValueError, ("level 0", "(B, 4, H, W)", "(4, 8, 8)")),
    ("not-tensor", lambda: [np.zeros((1, 4, 8, 8)), torch.zeros(1, 8, 4, 4)], TypeError, ("level 0", "ndarray")),
    ("dtype", lambda: [torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 4, 4, dtype=torch.float64)], TypeError,
     ("one dtype", "torch.float32", "torch.float64")),
):
    CASES[f"FPN-forward-{label}"] = Case(lambda features=features: tiny_fpn()(features()), error, words)
CASES["ResNetFPN-body"] = case(TypeError, "ResNetFeatures", "resnet_features", "got ResNet")(
    lambda: ResNetFPN(on_meta(torchvision.models.resnet18)))
CASES["ResNetFPN-out"] = case(ValueError, "out_channels", "got 0")(lambda: ResNetFPN(on_meta(resnet_features, 18), 0))
CASES["resnet50_fpn-out"] = case(TypeError, "out_channels", "str '256'")(lambda: on_meta(resnet50_fpn, "256"))

# Names of layers: truncate, up_to, freeze.
for label, name, error, words in (
    ("trailing-dot", "layer3.", ValueError, ("'layer3.'", "trailing", "did you mean 'layer3'")),
    ("leading-dot", ".layer3", ValueError, ("'.layer3'", "did you mean 'layer3'")),
    ("double-dot", "layer3..0", ValueError, ("'layer3..0'", "did you mean 'layer3.0'")),
    ("space", " layer3", ValueError, ("' layer3'", "spaces", "did you mean 'layer3'")),
    ("empty", "", TypeError, ("module name", "'layer3'", "got str ''")),
    ("none", None, TypeError, ("module name", "got NoneType None")),
    ("int", 3, TypeError, ("module name", "got int 3")),
    ("unknown", "layer5", ValueError, ("'layer5'", "valid choices", "'layer4'")),
):
    CASES[f"truncate-{label}"] = Case(lambda name=name: truncate(tv18(), name), error, words)
    if label != "unknown":
        CASES[f"up_to-{label}"] = Case(lambda name=name: up_to(tv18(), name), error, words)
CASES["up_to-unknown"] = case(ValueError, "'layer9'", "valid choices", "'layer4'")(lambda: up_to(tv18(), "layer9"))
CASES["up_to-nested-trailing"] = case(ValueError, "'layer1.0.'", "did you mean 'layer1.0'")(
    lambda: up_to(tv18(), "layer1.0."))
CASES["truncate-fc"] = case(ValueError, "'fc'", "flatten", "cut at 'avgpool'")(lambda: truncate(tv18(), "fc"))
CASES["truncate-inside-block"] = case(ValueError, "'layer3.1'", "BasicBlock", "nn.Sequential")(
    lambda: truncate(tv18(), "layer3.1.conv1"))
CASES["truncate-model"] = case(TypeError, "model must be a Module", "got str")(lambda: truncate("resnet18", "layer3"))
CASES["up_to-model"] = case(TypeError, "model must be a Module", "got dict")(lambda: up_to({}, "layer3"))
CASES["child_table-model"] = case(TypeError, "model must be a Module", "got int")(lambda: child_table(3))

for label, call, error, words in (
    ("mode", lambda m: freeze(m, ["layer1"], batchnorm="froze"), ValueError,
     ("'froze'", "valid choices", "'frozen', 'eval', 'train'")),
    ("mode-bool", lambda m: freeze(m, ["layer1"], batchnorm=True), ValueError, ("True", "'frozen'")),
    ("string", lambda m: freeze(m, "layer1"), TypeError, ("list of submodule names", "the string 'layer1'")),
    ("empty", lambda m: freeze(m, []), ValueError, ("names is empty", "up_to(model, 'layer2')")),
    ("unknown", lambda m: freeze(m, ["layer1", "layer9"]), ValueError, ("'layer9'", "top-level children", "'fc'")),
    ("trailing-dot", lambda m: freeze(m, ["layer1."]), ValueError, ("'layer1.'", "did you mean 'layer1'")),
    ("int-name", lambda m: freeze(m, [3]), TypeError, ("module name", "got int 3")),
    ("none", lambda m: freeze(m, None), TypeError, ("list of submodule names", "NoneType")),
    ("root", lambda m: freeze(m, [""]), TypeError, ("module name", "got str ''")),
    ("model", lambda m: freeze("resnet18", ["layer1"]), TypeError, ("model must be a Module", "got str")),
    ("unfreeze-string", lambda m: unfreeze(m, "layer1"), TypeError, ("the string 'layer1'",)),
    ("unfreeze-unknown", lambda m: unfreeze(m, ["layer9"]), ValueError, ("'layer9'", "top-level children")),
):
    CASES[f"freeze-{label}"] = Case(lambda call=call: call(tv18()), error, words)


def bn_model(bn: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(conv=nn.Conv2d(3, 4, 1), bn=bn, head=nn.Linear(4, 2)))


CASES["freeze-frozen-BatchNorm1d"] = case(ValueError, "'bn'", "BatchNorm1d", "batchnorm='eval'")(
    lambda: freeze(bn_model(nn.BatchNorm1d(4)), ["conv", "bn"]))
CASES["freeze-frozen-BatchNorm3d"] = case(ValueError, "'bn'", "BatchNorm3d", "BatchNorm2d and SyncBatchNorm")(
    lambda: freeze(bn_model(nn.BatchNorm3d(4)), ["bn"]))
CASES["freeze-no-running-stats"] = case(ValueError, "'bn'", "track_running_stats=False", "'eval'")(
    lambda: freeze(bn_model(nn.BatchNorm2d(4, track_running_stats=False)), ["bn"]))

# Sizes: the shape predictor and the shapes command.
for label, size, error, words in (
    ("bools", (True, True), ValueError, ("two positive ints (H, W)", "(True, True)")),
    ("zero", (0, 224), ValueError, ("two positive ints", "(0, 224)")),
    ("negative", (-1, 5), ValueError, ("(-1, 5)",)),
    ("one", (224,), TypeError, ("two positive ints (H, W)", "(224,)")),
    ("int", 224, TypeError, ("two positive ints", "int 224", "(224, 224)")),
    ("str", "224x224", TypeError, ("two positive ints", "'224x224'")),
    ("float", (224.0, 224), ValueError, ("(224.0, 224)",)),
    ("three", (3, 224, 224), TypeError, ("(3, 224, 224)", "without the channels", "write (224, 224)")),
    ("batch-channels", (1, 3, 224, 224), TypeError, ("(1, 3, 224, 224)", "without the channels and the batch")),
):
    CASES[f"predict_shapes-size-{label}"] = Case(lambda size=size: predict_shapes("resnet18", size), error, words)
CASES["checked_prediction-size"] = case(ValueError, "(True, True)")(
    lambda: checked_prediction("resnet18", (True, True)))
CASES["predict_shapes-arch"] = case(ValueError, "'resnet20'", "valid choices", "'resnet18'")(
    lambda: predict_shapes("resnet20", (224, 224)))
CASES["predict_shapes-in_channels"] = case(ValueError, "in_channels", "got 0")(
    lambda: predict_shapes("resnet18", (224, 224), in_channels=0))
CASES["minimum_size-limit"] = case(ValueError, "limit", "got 0")(lambda: minimum_size("vgg16", limit=0))
CASES["minimum_size-arch"] = case(ValueError, "'vgg19'", "valid choices")(lambda: minimum_size("vgg19"))
CASES["checked_prediction-too-small"] = case(SizeTooSmall, "31x40", "the minimum is 32x32")(
    lambda: checked_prediction("vgg16", (31, 40)))

# Measuring and the claims record.
for label, shape, words in (
    ("zero", (3, 0, 64), ("(3, 0, 64)",)),
    ("empty", (), ("()",)),
    ("str", "3x64x64", ("'3x64x64'",)),
    ("bool", (True, 64, 64), ("(True, 64, 64)",)),
    ("float", (3, 64.0, 64), ("(3, 64.0, 64)",)),
):
    CASES[f"measure-input_shape-{label}"] = Case(lambda shape=shape: measure(model("ResNet"), shape), ValueError,
                                                 ("input_shape", "positive ints", "(3, 224, 224)", *words))
CASES["measure-channels"] = case(ValueError, "ResNet expects 3 input channels", "got 1")(
    lambda: measure(model("ResNet"), (1, 16, 16)))
CASES["measure-model"] = case(TypeError, "model must be a Module", "got str")(lambda: measure("resnet18", (3, 8, 8)))
CASES["find_claim-model"] = case(ValueError, "'resnet20'", "valid choices", "'resnet18'")(
    lambda: find_claim("resnet20"))
CASES["find_claim-size"] = case(ValueError, "resnet18", "(3, 225, 225)", "claimed input shapes")(
    lambda: find_claim("resnet18", (3, 225, 225)))
CASES["find_claim-bad-shape"] = case(ValueError, "input_shape", "(3, 0, 0)")(lambda: find_claim("resnet18", (3, 0, 0)))
CASES["check_claim-name"] = case(TypeError, "claim must be a Claim", "str 'resnet18'", "find_claim")(
    lambda: check_claim("resnet18"))
CASES["check_claim-model"] = case(TypeError, "model must be a Module", "got str")(
    lambda: check_claim(find_claim("resnet18"), "resnet18"))
CASES["claims_table-model"] = case(ValueError, "'resnet20'", "valid choices")(lambda: claims_table("resnet20"))

# The zoo, the data and what the chapters display.
CASES["VGG16Blocks-type"] = case(TypeError, "torchvision.models.VGG", "got ResNet")(lambda: VGG16Blocks(tv18()))
CASES["maxpool_indices-type"] = case(TypeError, "features must be a Sequential", "got str")(
    lambda: maxpool_indices("features"))
for label, call, error, words in (
    ("sample_image-name", lambda: sample_image("cat"), ValueError, ("'cat'", "valid choices", "'astronaut'")),
    ("sample_image-size-0", lambda: sample_image(size=0), ValueError, ("size", "positive int", "0")),
    ("sample_image-size-bool", lambda: sample_image(size=True), ValueError, ("size", "positive int", "True")),
    ("sample_image-size-float", lambda: sample_image(size=2.5), ValueError, ("size", "2.5")),
    ("denormalise-numpy", lambda: denormalise(np.zeros((3, 4, 4))), TypeError, ("torch.Tensor", "ndarray")),
    ("denormalise-gray", lambda: denormalise(torch.zeros(1, 1, 4, 4)), ValueError, ("RGB", "(1, 1, 4, 4)")),
    ("denormalise-uint8", lambda: denormalise(torch.zeros(3, 4, 4, dtype=torch.uint8)), TypeError,
     ("torch.uint8", "normalised float image")),
    ("Table-cells", lambda: Table(("a",), (("1", "2"),)), ValueError, ("('1', '2')", "2 cells", "expected 1")),
    ("Table-int-cell", lambda: Table(("a",), ((1,),)), TypeError, ("must be str", "1 of type int", "fmt_int")),
    ("Table-columns-str", lambda: Table("ab", ()), TypeError, ("columns", "tuple of str", "got str")),
    ("fmt_shape-str", lambda: fmt_shape("abc"), TypeError, ("sequence of ints", "'abc'")),
    ("fmt_shape-int", lambda: fmt_shape(5), TypeError, ("sequence of ints", "got 5")),
    ("fmt_int-str", lambda: fmt_int("3"), TypeError, ("an int", "str '3'")),
    ("fmt_int-float", lambda: fmt_int(2.5), TypeError, ("an int", "float 2.5")),
    ("show_source-int", lambda: show_source(3), TypeError, ("show_source", "function, class", "int 3")),
    ("prose-empty", lambda: prose(), TypeError, ("prose", "values by name", "got none")),
):
    CASES[label] = Case(call, error, words)


# The public functions of the modern backbones, the input-size contract and the U-Net.


@functools.cache
def pyramid(name: str) -> nn.Module:
    with torch.device("meta"):
        return backbone(name).eval()


for label, call, error, words in (
    ("backbone-name", lambda: backbone("resnet19"), ValueError, ("'resnet19'", "valid choices", "convnext_tiny")),
    ("backbone-int", lambda: backbone(3), TypeError, ("int", "valid names")),
    ("backbone-linear", lambda: backbone(nn.Linear(2, 2)), TypeError, ("Linear", "supported model classes")),
    ("backbone-input-uint8", lambda: pyramid("convnext_tiny")(torch.zeros(1, 3, 64, 64, dtype=torch.uint8)),
     TypeError, ("torch.uint8", "x.float() / 255")),
    ("backbone-input-channels", lambda: pyramid("mobilenet_v3_small")(torch.zeros(1, 1, 64, 64)), ValueError,
     ("expects 3 input channels", "got 1")),
    ("backbone-input-3d", lambda: pyramid("swin_t")(torch.zeros(3, 64, 64)), ValueError,
     ("4-D batch", "3-D tensor")),
    ("backbone-vit-size", lambda: pyramid("vit_b_16")(torch.zeros(1, 3, 225, 225)), ValueError,
     ("224x224", "225x225")),
    ("contract-name", lambda: contract("convnext_tiniest", (224, 224)), ValueError,
     ("'convnext_tiniest'", "valid choices")),
    ("contract-int-size", lambda: contract("resnet18", 224), ValueError, ("two positive ints", "224")),
    ("contract-zero", lambda: contract("resnet18", (0, 224)), ValueError, ("two positive ints", "(0, 224)")),
    ("contract-bools", lambda: contract("resnet18", (True, True)), ValueError, ("two positive ints", "True")),
    ("contract-three", lambda: contract("resnet18", (3, 224, 224)), ValueError,
     ("(H, W)", "(3, 224, 224)", "without the channels", "write (224, 224)")),
    ("pad-multiple-zero", lambda: pad_to_multiple(torch.zeros(1, 3, 5, 5), 0), ValueError,
     ("multiple must be a positive int", "got 0")),
    ("pad-multiple-bool", lambda: pad_to_multiple(torch.zeros(1, 3, 5, 5), True), ValueError,
     ("positive int", "True")),
    ("pad-3d", lambda: pad_to_multiple(torch.zeros(3, 5, 5), 32), ValueError, ("(B, C, H, W)", "[3, 5, 5]")),
    ("pad-numpy", lambda: pad_to_multiple(np.zeros((1, 3, 5, 5)), 32), TypeError, ("(B, C, H, W)", "ndarray")),
    ("pad-channels-last", lambda: pad_to_multiple(torch.zeros(1, 50, 70, 3), 32), ValueError,
     ("[1, 50, 70, 3]", "channels-last", "x.permute(0, 3, 1, 2)")),
    ("pad-empty-side", lambda: pad_to_multiple(torch.zeros(1, 3, 0, 5), 32), ValueError,
     ("H, W >= 1", "[1, 3, 0, 5]")),
    ("crop-reduction", lambda: Padding((5, 5), (32, 32)).crop(torch.zeros(1, 8, 1, 1), 0), ValueError,
     ("reduction must be a positive int", "got 0")),
    ("crop-too-small", lambda: Padding((65, 65), (96, 96)).crop(torch.zeros(1, 8, 2, 2), 32), ValueError,
     ("at least 3x3", "[1, 8, 2, 2]")),
    ("pyramid-fpn-body", lambda: PyramidFPN(nn.Linear(2, 2)), TypeError, ("feature_info", "Linear")),
    ("pyramid-fpn-out", lambda: PyramidFPN(pyramid("convnext_tiny"), 0), ValueError, ("out_channels", "got 0")),
    ("unet-levels", lambda: UNetDecoder([64, 128], 5), ValueError, ("feature_info (Levels)", "[64, 128]")),
    ("unet-classes", lambda: UNetDecoder(pyramid("resnet18").feature_info, 0), ValueError,
     ("num_classes must be a positive int", "got 0")),
    ("unet-backbone", lambda: UNet(nn.Linear(2, 2), 5), (TypeError, ValueError), ("feature_info",)),
    ("settings-freeze", lambda: TrainSettings(freeze="frozen-bn"), ValueError,  # the old command-line word
     ("'frozen-bn'", "valid choices", "'frozen'")),
    ("settings-backbone", lambda: TrainSettings(backbone="vgg11"), ValueError, ("'vgg11'", "valid choices")),
    ("settings-seed", lambda: TrainSettings(seed=-1), ValueError, ("seed", ">= 0", "-1")),
    ("settings-seconds", lambda: TrainSettings(seconds=0), ValueError, ("seconds", ">= 0.1", "got 0")),
    ("settings-batch", lambda: TrainSettings(batch_size=1), ValueError, ("batch_size", ">= 2", "got 1")),
    ("settings-size", lambda: TrainSettings(size=(31, 64)), ValueError, ("each an int >= 32", "(31, 64)")),
    ("settings-pretrained", lambda: TrainSettings(pretrained="/nonexistent/r18.pt"), ValueError,
     ("'/nonexistent/r18.pt'", "is not a file", "pretrain --out")),
    ("synthetic-stream", lambda: synthetic.rng_for("test", 0), ValueError, ("'test'", "valid choices")),
    ("synthetic-seed", lambda: synthetic.rng_for("train", -3), ValueError, ("non-negative int", "-3")),
    ("synthetic-n", lambda: synthetic.dataset("train", 0, 0), ValueError, ("n must be a positive int", "got 0")),
    ("synthetic-size", lambda: synthetic.dataset("train", 0, 2, (67,)), ValueError, ("(height, width)", "(67,)")),
):
    CASES[f"new-{label}"] = Case(call, error, words)


# Output stride (pyramids.dilation) and the DeepLab head on it.
DILATABLE_NAMES = ("ResNet", "MobileNetV3", "EfficientNet", "RegNet", "ConvNeXt")


@functools.cache
def os8_pyramid() -> nn.Module:
    with torch.device("meta"):
        return backbone("resnet18", output_stride=8).eval()


for label, call, error, words in (
    ("os-7", lambda: backbone("resnet18", output_stride=7), ValueError,
     ("output_stride 7", "valid choices: 8, 16, 32")),
    ("os-bool", lambda: backbone("resnet18", output_stride=True), ValueError, ("True", "valid choices: 8, 16, 32")),
    ("os-float", lambda: backbone("resnet18", output_stride=16.0), TypeError,
     ("output_stride 16.0 is a float", "valid choices: 8, 16, 32 (int)")),
    ("os-str", lambda: backbone("resnet18", output_stride="16"), ValueError, ("'16'", "valid choices: 8, 16, 32")),
    ("os-swin", lambda: backbone(on_meta(torchvision.models.swin_t), output_stride=16), ValueError,
     ("SwinTransformer cannot be dilated", *DILATABLE_NAMES)),
    ("os-vit", lambda: backbone(on_meta(torchvision.models.vit_b_16), output_stride=8), ValueError,
     ("VisionTransformer cannot be dilated", *DILATABLE_NAMES)),
    ("os-vgg", lambda: backbone(on_meta(torchvision.models.vgg16), output_stride=8), ValueError,
     ("VGG cannot be dilated", *DILATABLE_NAMES)),
    ("os-resnet-already-dilated", lambda: backbone(on_meta(
        torchvision.models.resnet50, replace_stride_with_dilation=[False, True, True]), output_stride=8),
     ValueError, ("already dilated", "layer3.1.conv2", "(2, 2)", "replace_stride_with_dilation", "output_stride")),
    ("os-32-already-dilated", lambda: backbone(on_meta(
        torchvision.models.resnet50, replace_stride_with_dilation=[False, False, True])),
     ValueError, ("already dilated", "layer4.1.conv2", "output_stride=16 or 8")),
    ("os-mobilenet-already-dilated", lambda: backbone(on_meta(
        torchvision.models.mobilenet_v3_large, dilated=True), output_stride=16), ValueError,
     ("already dilated", "features.13", "dilated=True")),
    ("deeplab-body", lambda: DeepLab(nn.Linear(2, 2), 3), TypeError, ("feature_info", "Linear")),
    ("deeplab-os32", lambda: DeepLab(pyramid("resnet18"), 3), ValueError, ("output stride 32", "output_stride=8")),
    ("deeplab-classes", lambda: DeepLab(os8_pyramid(), 0), ValueError, ("num_classes", "got 0")),
    ("deeplab-rates", lambda: DeepLab(os8_pyramid(), 3, atrous_rates=12), TypeError, ("atrous_rates", "12")),
    ("deeplab-rate-zero", lambda: DeepLab(os8_pyramid(), 3, atrous_rates=(6, 0)), ValueError,
     ("atrous rate", "got 0")),
):
    CASES[f"os-{label}"] = Case(call, error, words)


# Found by the review of stop 25: names given as one string, hooks used after remove(), a U-Net decoder
# given a dict or another batch (torch's "'str' object has no attribute 'shape'" and cat errors before).
def _removed_hooks():
    h = HookExtractor(model("ResNet"), ["layer1"])
    h.remove()
    return h(torch.zeros(1, 3, 32, 32))


def _resnet18_with(**children: nn.Module) -> nn.Module:
    m = torchvision.models.resnet18(weights=None)
    for name, child in children.items():
        setattr(m, name, child)
    return m


def _frozen_resnet18(batchnorm: str) -> nn.Module:
    m = torchvision.models.resnet18(weights=None)
    freeze(m, ["conv1", "bn1", "layer1"], batchnorm=batchnorm)
    return m


def _odd_levels(batch: int = 1) -> list[torch.Tensor]:
    return [torch.zeros(batch, c, s, s) for c, s in zip(pyramid("resnet18").feature_info.channels,
                                                          (16, 8, 4, 2, 1), strict=True)]


for label, call, error, words in (
    ("extractor-layers-string", lambda: build_extractor("fx", on_meta(torchvision.models.resnet18), "layer2"),
     TypeError, ("list of stage names", "['layer2']", "the string 'layer2'")),
    ("hooks-names-string", lambda: HookExtractor(model("ResNet"), "layer1"), TypeError,
     ("list of submodule names", "the string 'layer1'")),
    ("hooks-empty", lambda: HookExtractor(model("ResNet"), []), ValueError, ("names is empty", "ResNet")),
    ("hooks-removed", _removed_hooks, RuntimeError, ("hooks were removed", "['layer1']", "build a new one")),
    ("subclass-replaced-head", lambda: build_extractor("subclass", _resnet18_with(fc=nn.Identity()), ["layer2"]),
     ValueError, ("cannot reproduce 'fc'", "of type Identity", "builds Linear", "'wrapper'")),
    ("subclass-frozen-bn", lambda: build_extractor("subclass", _frozen_resnet18("frozen"), ["layer2"]),
     ValueError, ("cannot reproduce 'bn1'", "FrozenBatchNorm2d", "Build the extractor first")),
    ("subclass-eval-bn", lambda: build_extractor("subclass", _frozen_resnet18("eval"), ["layer2"]),
     ValueError, ("cannot reproduce 'bn1'", "held in eval mode by freeze()")),
    ("truncate-efficientnet-head", lambda: truncate(on_meta(torchvision.models.efficientnet_b0), "classifier"),
     ValueError, ("keeps a Linear layer right after 'avgpool'", "flattens", "cut at 'avgpool'")),
    ("backbone-convnext-too-small", lambda: pyramid("convnext_tiny")(torch.zeros(1, 3, 31, 64, device="meta")),
     ValueError, ("ConvNeXt pyramid", "at least 32", "[1, 3, 31, 64]")),
    ("levels-renamed-count", lambda: pyramid("resnet18").feature_info.renamed(["p2"], 8), ValueError,
     ("one new name per level", "['p2']")),
    ("select-string", lambda: pyramid("resnet18").feature_info.select("layer2"), TypeError,
     ("list of level names", "['layer2']")),
    ("unet-dict", lambda: UNetDecoder(pyramid("resnet18").feature_info, 2)(
        torch.zeros(1, 3, 32, 32), dict(zip("abcde", _odd_levels(), strict=True))), TypeError,
     ("got a dict", "list(d.values())")),
    ("unet-image-batch", lambda: UNetDecoder(pyramid("resnet18").feature_info, 2)(
        torch.zeros(2, 3, 32, 32), _odd_levels()), ValueError, ("image batch has 2", "levels 1")),
):
    CASES[f"review-{label}"] = Case(call, error, words)


# Issue 20: a pyramid of another dtype than the FPN's weights (torch said "Input type (double) and
# bias type (float)"), and sizes given with a channel count (measure(model, (3, 224)) was a conv error).


def float_levels(dtype: torch.dtype) -> list[torch.Tensor]:
    return [torch.zeros(1, 4, 8, 8, dtype=dtype), torch.zeros(1, 8, 4, 4, dtype=dtype)]


for dtype, words in (
    (torch.float64, ("[f.to(torch.float32) for f in features]", "fpn.to(torch.float64)")),
    (torch.float16, ("[f.to(torch.float32) for f in features]", "fpn.to(torch.float16)")),
    (torch.bfloat16, ("got torch.bfloat16",)),
    (torch.uint8, ("got torch.uint8", "x.float() / 255")),
):
    CASES[f"FPN-forward-all-{dtype}"] = case(TypeError, "FPN has torch.float32 weights",
                                             "expects torch.float32 feature maps", f"got {dtype}", *words)(
        lambda dtype=dtype: tiny_fpn()(float_levels(dtype)))
CASES["FPN-double-forward-float32"] = case(TypeError, "FPN has torch.float64 weights", "got torch.float32",
                                           "[f.to(torch.float64) for f in features]")(
    lambda: FPN([4, 8], 2).double()(float_levels(torch.float32)))
CASES["ResNetFPN-body-float-fpn-double"] = case(TypeError, "FPN has torch.float64 weights", "got torch.float32")(
    lambda: _resnet_fpn_with_double_fpn()(torch.zeros(1, 3, 32, 32)))
for dtype in (torch.float64, torch.float16):
    CASES[f"PyramidFPN-input-{dtype}"] = case(TypeError, "PyramidFPN has torch.float32 weights",
                                              f"got {dtype}", "x.to(torch.float32)")(
        lambda dtype=dtype: PyramidFPN(pyramid("convnext_tiny"), 8)(torch.zeros(1, 3, 64, 64, dtype=dtype)))
CASES["PyramidFPN-double-input-float32"] = case(TypeError, "PyramidFPN has torch.float64 weights",
                                                "got torch.float32", "x.to(torch.float64)")(
    lambda: PyramidFPN(resnet_features(18), 8).double()(torch.zeros(1, 3, 32, 32)))

for label, shape, words in (
    ("channels-and-one-side", (3, 224), ("(3, 224)", "2 values", "(3, 224, 224)")),
    ("sides-only", (224, 224), ("(224, 224)", "2 values", "(3, 224, 224)")),
    ("with-batch", (1, 3, 224, 224), ("(1, 3, 224, 224)", "drop the batch, write (3, 224, 224)")),
):
    CASES[f"measure-input_shape-{label}"] = case(ValueError, "input_shape must be (C, H, W) without the batch",
                                                 *words)(lambda shape=shape: measure(model("ResNet"), shape))
CASES["find_claim-sides-only"] = case(ValueError, "input_shape must be (C, H, W)", "(224, 224)")(
    lambda: find_claim("resnet18", (224, 224)))
CASES["checked_prediction-channels"] = case(TypeError, "(3, 225, 300)", "write (225, 300)")(
    lambda: checked_prediction("resnet18", (3, 225, 300)))
CASES["contract-batch-channels"] = case(ValueError, "(1, 3, 225, 300)", "without the channels and the batch",
                                        "write (225, 300)")(lambda: contract("swin_t", (1, 3, 225, 300)))
CASES["draw_fpn-size-channels"] = case(ValueError, "(H, W)", "(3, 224, 224)", "write (224, 224)")(
    lambda: _draw_fpn()(resnet_features(50).feature_info[1:], 256, (3, 224, 224)))
CASES["sample_image-size-channels"] = case(ValueError, "positive int", "side of the square", "(3, 224)")(
    lambda: sample_image(size=(3, 224)))
CASES["settings-size-channels"] = case(ValueError, "(height, width)", "(3, 64, 64)")(
    lambda: TrainSettings(size=(3, 64, 64)))


def _resnet_fpn_with_double_fpn() -> ResNetFPN:
    m = ResNetFPN(resnet_features(18), 8).eval()
    m.fpn.double()
    return m


def _draw_fpn():
    from backbones_tutorial.viz import draw_fpn

    return draw_fpn

@pytest.mark.parametrize("label", list(CASES))
def test_misuse_gets_a_clear_error(label):
    c = CASES[label]
    with pytest.raises(c.error) as raised:
        c.call()
    message = str(raised.value)
    missing = [w for w in c.words if w not in message]
    assert not missing, f"{label}: {missing} not in {message!r}"


@pytest.mark.parametrize("argv, words", [
    (["shapes", "resnet50", "--size", "0", "0"], ["(0, 0)", "two positive ints"]),
    (["shapes", "resnet18", "--size", "-3", "64"], ["(-3, 64)", "two positive ints"]),
    (["shapes", "vgg16", "--size", "16", "16"], ["16x16", "the minimum is 32x32"]),
    (["shapes", "resnet20"], ["invalid choice: 'resnet20'", "resnet18"]),
    (["shapes", "resnet18", "--size", "a", "b"], ["invalid int value: 'a'"]),
    (["shapes", "resnet18", "--size", "224"], ["--size", "expected 2 arguments"]),
], ids=["zero", "negative", "too-small", "arch", "not-int", "one-side"])
def test_shapes_command_refuses_with_exit_2_and_a_message(argv, words, capsys):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err
    assert "Traceback" not in err


def test_the_suite_has_at_least_150_cases():
    assert len(CASES) + 6 >= 150


# Nothing is changed before it is checked.

def state_of(m: nn.Module) -> list[tuple[str, str, bool, bool]]:
    return [(n, type(s).__name__, s.training, all(p.requires_grad for p in s.parameters(recurse=False)))
            for n, s in m.named_modules()]


@pytest.mark.parametrize("call", [
    lambda m: freeze(m, ["layer1", "layer9"]),
    lambda m: freeze(m, ["conv1", "layer1."]),
    lambda m: freeze(m, ["layer1", "head"], batchnorm="frozen"),
    lambda m: freeze(m, ["layer1"], batchnorm="none"),
    lambda m: unfreeze(m, ["layer1", "layer9"]),
], ids=["unknown-last", "dot-last", "head-last", "mode", "unfreeze"])
def test_a_refused_freeze_leaves_the_model_as_it_was(call):
    m = on_meta(torchvision.models.resnet18).train()
    m.head = nn.BatchNorm1d(1000)  # refused by batchnorm="frozen", after layer1's BN layers
    before = state_of(m)
    with pytest.raises((ValueError, TypeError)):
        call(m)
    assert state_of(m) == before


def test_resnet_fpn_checks_before_dropping_the_head_and_a_rerun_works():
    body = on_meta(resnet_features, 18)
    with pytest.raises(ValueError, match="out_channels"):
        ResNetFPN(body, 0)
    assert hasattr(body, "avgpool") and hasattr(body, "fc")  # the refusal changed nothing
    first = ResNetFPN(body, 8)
    second = ResNetFPN(body, 8)  # a re-run notebook cell wraps the same body again
    assert not hasattr(body, "fc") and second.feature_info == first.feature_info


def test_measure_restores_the_mode_when_the_input_is_refused():
    m = resnet18().train()
    with pytest.raises(ValueError):
        measure(m, (1, 16, 16))
    assert m.training and all(s.training for s in m.modules())


def test_unfreeze_gives_back_momentum_and_batch_count():
    m = bn_model(nn.BatchNorm2d(4, momentum=0.01))
    m.bn.num_batches_tracked.fill_(7)
    m.bn.running_mean.fill_(0.5)
    freeze(m, ["bn"], batchnorm="frozen")
    assert isinstance(m.bn, FrozenBatchNorm2d)
    unfreeze(m, ["bn"])
    assert type(m.bn) is nn.BatchNorm2d and m.bn.momentum == 0.01
    assert m.bn.num_batches_tracked.item() == 7 and torch.equal(m.bn.running_mean, torch.full((4,), 0.5))


def test_sync_batchnorm_is_frozen_and_given_back():
    m = bn_model(nn.SyncBatchNorm(4))
    freeze(m, ["bn"], batchnorm="frozen")
    assert isinstance(m.bn, FrozenBatchNorm2d)
    unfreeze(m, ["bn"])
    assert type(m.bn) is nn.SyncBatchNorm


@pytest.mark.parametrize("bn, x", [
    (nn.BatchNorm1d(4), torch.randn(8, 4) * 3 + 1),
    (nn.BatchNorm2d(4), torch.randn(8, 4, 2, 2) * 3 + 1),
    (nn.BatchNorm3d(4), torch.randn(8, 4, 2, 2, 2) * 3 + 1),
], ids=["1d", "2d", "3d"])
def test_eval_mode_keeps_the_statistics_of_every_batchnorm_kind(bn, x):
    m = nn.Sequential(OrderedDict(bn=bn))
    freeze(m, ["bn"], batchnorm="eval")
    m.train()
    m(x)
    assert torch.equal(bn.running_mean, torch.zeros(4)) and bn.num_batches_tracked.item() == 0


# Valid edge cases pass.

def test_the_smallest_inputs_pass(zeroed_model):
    with torch.no_grad():
        out = zeroed_model("registry", "resnet18")(torch.zeros(1, 3, 1, 1))  # every ResNet layer is padded
        blocks = zeroed_model("registry", "vgg16_blocks")(torch.zeros(1, 3, 32, 32))  # five 2x2 pools: 32 -> 1
    assert out.shape == (1, 1000)
    assert [tuple(b.shape[-2:]) for b in blocks] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]


def test_batch_one_odd_sizes_and_channels_last_in_eval_mode(zeroed_model):
    features = zeroed_model("registry", "resnet18_features")
    x = torch.randn(1, 3, 17, 23)
    with torch.no_grad():
        out = features(x)
        out_cl = features(x.to(memory_format=torch.channels_last))
    # ceil(17 / r), ceil(23 / r) for r = 2, 4, 8, 16, 32, by hand
    assert [tuple(t.shape[-2:]) for t in out] == [(9, 12), (5, 6), (3, 3), (2, 2), (1, 1)]
    assert all(torch.equal(a, b) for a, b in zip(out, out_cl, strict=True))


def test_the_fpn_takes_odd_levels_fine_to_coarse():
    fpn = FPN([4, 8, 8, 16], 2).eval()
    sides = [57, 29, 15, 8]  # a 225-pixel input at strides 4 to 32
    with torch.no_grad():
        out = fpn([torch.randn(1, c, s, s) for c, s in zip([4, 8, 8, 16], sides, strict=True)])
    assert [t.shape[-1] for t in out] == sides


def test_predict_shapes_accepts_the_minimum_and_a_torch_size():
    assert predict_shapes("vgg16", (32, 32))[0].shape == (64, 16, 16)  # block 1: 64 channels, one pool
    assert predict_shapes("resnet18", torch.Size([1, 1]))[-1].shape == (1000,)


def test_the_fpn_takes_its_own_dtype_and_autocasts_low_precision_maps():
    """The dtype check refuses a mismatch, not a valid use: a float64 FPN on float64 maps, and
    bfloat16 maps under torch.autocast (which casts for the float32 weights)."""
    with torch.no_grad():
        double = FPN([4, 8], 2).double().eval()(float_levels(torch.float64))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            auto = tiny_fpn()(float_levels(torch.bfloat16))
    assert [t.dtype for t in double] == [torch.float64] * 2
    assert [t.dtype for t in auto] == [torch.bfloat16] * 2 and [t.shape[-1] for t in auto] == [8, 4]


@pytest.mark.parametrize("argv, words", [
    (["shapes", "resnet50", "--size", "3", "224", "224"],
     ["--size: expected 2 arguments", "without the channel count", "got 3: 3 224 224", "e.g. --size 224 224"]),
    (["shapes", "swin_t", "--size", "225", "300", "3"], ["got 3: 225 300 3", "e.g. --size 225 300"]),
    (["shapes", "resnet18", "--size", "1", "3", "225", "300"], ["got 4: 1 3 225 300", "e.g. --size 225 300"]),
    (["bench", "--quick", "--size", "3", "64"],
     ["--size: expected 1 argument", "side of the square input", "got 2: 3 64", "e.g. --size 64"]),
    (["shapes", "resnet18", "--size", "64", "64", "--depth"], ["unrecognized arguments: --depth"]),
], ids=["shapes-chw", "shapes-hwc", "shapes-nchw", "bench-c-side", "other-extra"])
def test_a_size_option_given_a_channel_count_is_refused_naming_it(argv, words, capsys):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err
    assert "Traceback" not in err
