"""The claims record: every shape and parameter count the book states, as data.

Each claim names a model of the registry (``registry.MODELS``), an input shape (one sample, batch left out),
and for each top-level child in call order its output shape and parameter count, then the
shape of every tensor the model returns (several for a feature extractor) and its total
parameter count. A child named in ``expand`` (a dotted path) is listed by its own children
instead, named by their dotted paths (``decoder.blocks.0``): that is how the U-Net's decoder
shows each of its blocks. ``measure_claims.check_claim`` measures the model
with torchinfo and fails on any difference; the tests check every claim, and the chapters
render their tables through the same function.

Where the numbers come from, independently of the package's code:
- output sizes and channels: Table 1 of He et al. (2015), and the conv arithmetic
  ``out = floor((in + 2*padding - kernel) / stride) + 1`` for sizes other than 224;
- parameters: ``k*k*c_in*c_out`` per bias-free conv, ``2*c`` per BatchNorm (weight and bias),
  ``c_in*c_out + c_out`` per Linear, summed per stage;
- totals: equal to ``num_params`` in torchvision's weights metadata (the tests check this).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLAIMS", "Claim", "S", "Stage"]


@dataclass(frozen=True)
class Stage:
    name: str
    shape: tuple[int, ...]  # (C, H, W) or (features,), batch left out
    params: int


@dataclass(frozen=True)
class Claim:
    model: str
    input_shape: tuple[int, ...]
    stages: tuple[Stage, ...]
    outputs: tuple[tuple[int, ...], ...]  # shape of each returned tensor (one for a classifier)
    total_params: int
    expand: tuple[str, ...] = ()  # dotted paths of children listed by their own children


S = Stage

CLAIMS: tuple[Claim, ...] = (
    # --- Chapter 1: residual blocks on a layer1-sized input -----------------------------------
    Claim(
        "basic_block_identity", (64, 56, 56),
        (S("conv1", (64, 56, 56), 36_864), S("bn1", (64, 56, 56), 128), S("relu", (64, 56, 56), 0),
         S("conv2", (64, 56, 56), 36_864), S("bn2", (64, 56, 56), 128)),
        ((64, 56, 56),), 73_984,
    ),
    Claim(
        "basic_block_projection", (64, 56, 56),
        (S("conv1", (128, 28, 28), 73_728), S("bn1", (128, 28, 28), 256), S("relu", (128, 28, 28), 0),
         S("conv2", (128, 28, 28), 147_456), S("bn2", (128, 28, 28), 256),
         S("downsample", (128, 28, 28), 8_448)),
        ((128, 28, 28),), 230_144,
    ),
    Claim(
        "bottleneck_projection", (64, 56, 56),
        (S("conv1", (64, 56, 56), 4_096), S("bn1", (64, 56, 56), 128), S("relu", (64, 56, 56), 0),
         S("conv2", (64, 56, 56), 36_864), S("bn2", (64, 56, 56), 128),
         S("conv3", (256, 56, 56), 16_384), S("bn3", (256, 56, 56), 512),
         S("downsample", (256, 56, 56), 16_896)),
        ((256, 56, 56),), 75_008,
    ),
    # --- Chapter 2: the five depths at 224x224 ------------------------------------------------
    Claim(
        "resnet18", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (64, 56, 56), 147_968),
         S("layer2", (128, 28, 28), 525_568), S("layer3", (256, 14, 14), 2_099_712),
         S("layer4", (512, 7, 7), 8_393_728), S("avgpool", (512, 1, 1), 0), S("fc", (1000,), 513_000)),
        ((1000,),), 11_689_512,
    ),
    Claim(
        "resnet34", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (64, 56, 56), 221_952),
         S("layer2", (128, 28, 28), 1_116_416), S("layer3", (256, 14, 14), 6_822_400),
         S("layer4", (512, 7, 7), 13_114_368), S("avgpool", (512, 1, 1), 0), S("fc", (1000,), 513_000)),
        ((1000,),), 21_797_672,
    ),
    Claim(
        "resnet50", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (256, 56, 56), 215_808),
         S("layer2", (512, 28, 28), 1_219_584), S("layer3", (1024, 14, 14), 7_098_368),
         S("layer4", (2048, 7, 7), 14_964_736), S("avgpool", (2048, 1, 1), 0),
         S("fc", (1000,), 2_049_000)),
        ((1000,),), 25_557_032,
    ),
    Claim(
        "resnet101", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (256, 56, 56), 215_808),
         S("layer2", (512, 28, 28), 1_219_584), S("layer3", (1024, 14, 14), 26_090_496),
         S("layer4", (2048, 7, 7), 14_964_736), S("avgpool", (2048, 1, 1), 0),
         S("fc", (1000,), 2_049_000)),
        ((1000,),), 44_549_160,
    ),
    Claim(
        "resnet152", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (256, 56, 56), 215_808),
         S("layer2", (512, 28, 28), 2_339_840), S("layer3", (1024, 14, 14), 40_613_888),
         S("layer4", (2048, 7, 7), 14_964_736), S("avgpool", (2048, 1, 1), 0),
         S("fc", (1000,), 2_049_000)),
        ((1000,),), 60_192_808,
    ),
    # --- Chapter 2: an odd, non-square input (225 x 300) ------------------------------------
    # H: 225 -> 113 -> 57 -> 57 -> 29 -> 15 -> 8;  W: 300 -> 150 -> 75 -> 75 -> 38 -> 19 -> 10
    Claim(
        "resnet34", (3, 225, 300),
        (S("conv1", (64, 113, 150), 9_408), S("bn1", (64, 113, 150), 128), S("relu", (64, 113, 150), 0),
         S("maxpool", (64, 57, 75), 0), S("layer1", (64, 57, 75), 221_952),
         S("layer2", (128, 29, 38), 1_116_416), S("layer3", (256, 15, 19), 6_822_400),
         S("layer4", (512, 8, 10), 13_114_368), S("avgpool", (512, 1, 1), 0), S("fc", (1000,), 513_000)),
        ((1000,),), 21_797_672,
    ),
    # --- Chapter 3: cutting through children() ----------------------------------------------
    # ResNet18 cut after layer4: the full model less fc (512*1000 + 1000).
    Claim(
        "resnet18_to_layer4", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (64, 56, 56), 147_968),
         S("layer2", (128, 28, 28), 525_568), S("layer3", (256, 14, 14), 2_099_712),
         S("layer4", (512, 7, 7), 8_393_728)),
        ((512, 7, 7),), 11_176_512,
    ),
    # VGG16: 13 convs (k*k*c_in*c_out + c_out) in features, three Linear layers in classifier.
    Claim(
        "vgg16", (3, 224, 224),
        (S("features", (512, 7, 7), 14_714_688), S("avgpool", (512, 7, 7), 0),
         S("classifier", (1000,), 123_642_856)),
        ((1000,),), 138_357_544,
    ),
    # --- Chapter 4: pyramids and the FPN ------------------------------------------------------
    # The subclass still owns avgpool and fc (never called, so torchinfo lists no row for them,
    # but they count in the total): torchvision's state dict loads strictly.
    Claim(
        "resnet18_features", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (64, 56, 56), 147_968),
         S("layer2", (128, 28, 28), 525_568), S("layer3", (256, 14, 14), 2_099_712),
         S("layer4", (512, 7, 7), 8_393_728)),
        ((64, 112, 112), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)), 11_689_512,
    ),
    Claim(
        "resnet50_features", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (256, 56, 56), 215_808),
         S("layer2", (512, 28, 28), 1_219_584), S("layer3", (1024, 14, 14), 7_098_368),
         S("layer4", (2048, 7, 7), 14_964_736)),
        ((64, 112, 112), (256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)), 25_557_032,
    ),
    # ResNet50-FPN: the body is ResNet50 less avgpool/fc (25,557,032 - 2,049,000); the FPN has
    # four 1x1 laterals ((256+512+1024+2048)*256 + 4*256) and four 3x3 outputs (4*(9*256*256 + 256)).
    # torchinfo reports the first tensor of a child that returns several (the body's stem).
    Claim(
        "resnet50_fpn", (3, 224, 224),
        (S("body", (64, 112, 112), 23_508_032), S("fpn", (256, 56, 56), 3_344_384)),
        ((256, 56, 56), (256, 28, 28), (256, 14, 14), (256, 7, 7)), 26_852_416,
    ),
    # At 225 x 225 every level is odd-sized: 57, 29, 15, 8.
    Claim(
        "resnet50_fpn", (3, 225, 225),
        (S("body", (64, 113, 113), 23_508_032), S("fpn", (256, 57, 57), 3_344_384)),
        ((256, 57, 57), (256, 29, 29), (256, 15, 15), (256, 8, 8)), 26_852_416,
    ),
    # --- Chapter 5: the zoo -------------------------------------------------------------------
    Claim(
        "vgg16_blocks", (3, 224, 224),
        (S("block1", (64, 112, 112), 38_720), S("block2", (128, 56, 56), 221_440),
         S("block3", (256, 28, 28), 1_475_328), S("block4", (512, 14, 14), 5_899_776),
         S("block5", (512, 7, 7), 7_079_424)),
        ((64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)), 14_714_688,
    ),
    Claim(
        "resnet34_to_layer3", (3, 224, 224),
        (S("conv1", (64, 112, 112), 9_408), S("bn1", (64, 112, 112), 128), S("relu", (64, 112, 112), 0),
         S("maxpool", (64, 56, 56), 0), S("layer1", (64, 56, 56), 221_952),
         S("layer2", (128, 28, 28), 1_116_416), S("layer3", (256, 14, 14), 6_822_400)),
        ((256, 14, 14),), 8_170_304,
    ),
    # --- Chapter 7: pyramids of the modern families (pyramids.backbone.backbone), one input of 224 x 224 --
    # The pyramid calls the modules of ``body`` (the whole torchvision model, head included, never
    # called as a whole, so torchinfo gives it no output shape); the totals are torchvision's
    # ``num_params`` of each model (tests/test_backbones.py checks them). Level widths: ConvNeXt-T
    # 96-192-384-768 (Liu et al. 2022, section 2.6), EfficientNet-B0's stages 16/24/40/112 and its
    # 1x1 head conv 1280 (Tan & Le 2019, table 1), MobileNetV3-Small 16/16/24/48 and 576 (Howard et
    # al. 2019, table 2), RegNetX-400MF stem 32 and widths 32/64/160/400 (Radosavovic et al. 2020),
    # Swin-T C = 96 doubling per stage (Liu et al. 2021, section 3.3), ViT-B/16 D = 768.
    Claim("convnext_tiny_pyramid", (3, 224, 224), (S("body", (), 28_589_128),),
          ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7)), 28_589_128),
    Claim("efficientnet_b0_pyramid", (3, 224, 224), (S("body", (), 5_288_548),),
          ((16, 112, 112), (24, 56, 56), (40, 28, 28), (112, 14, 14), (1280, 7, 7)), 5_288_548),
    Claim("mobilenet_v3_small_pyramid", (3, 224, 224), (S("body", (), 2_542_856),),
          ((16, 112, 112), (16, 56, 56), (24, 28, 28), (48, 14, 14), (576, 7, 7)), 2_542_856),
    Claim("regnet_x_400mf_pyramid", (3, 224, 224), (S("body", (), 5_495_976),),
          ((32, 112, 112), (32, 56, 56), (64, 28, 28), (160, 14, 14), (400, 7, 7)), 5_495_976),
    Claim("swin_t_pyramid", (3, 224, 224), (S("body", (), 28_288_354),),
          ((96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7)), 28_288_354),
    # Swin at 225 x 300: the stem floors (225 // 4 = 56, 300 // 4 = 75), each merge rounds up
    # (56 -> 28 -> 14 -> 7; 75 -> 38 -> 19 -> 10): neither ceil(n / r) nor floor(n / r) at once.
    Claim("swin_t_pyramid", (3, 225, 300), (S("body", (), 28_288_354),),
          ((96, 56, 75), (192, 28, 38), (384, 14, 19), (768, 7, 10)), 28_288_354),
    # ViT-B/16's simple pyramid: the ViT (86,567,656) plus the new scales: two 2x2 deconvs
    # 768 -> 384 (4*768*384 + 384 = 1,180,032 each), a LayerNorm2d(384) (768) and a 2x2 deconv
    # 384 -> 192 (4*384*192 + 192 = 295,104): 2,655,936.
    Claim("vit_b_16_pyramid", (3, 224, 224), (S("body", (), 86_567_656), S("scales", (), 2_655_936)),
          ((192, 56, 56), (384, 28, 28), (768, 14, 14), (768, 7, 7)), 89_223_592),
    # --- Chapter 8: the U-Net's decoder at the training size, 67 x 83 (not a multiple of 32) ---
    # Its backbone is training.segmentation_backbone: the pyramid with fc replaced by Identity, so it
    # holds ResNet18 less fc (11,689,512 - 513,000 = 11,176,512); torchinfo reports its first
    # returned tensor, the stem. Level sides by the conv arithmetic (ceil(n / r) for ResNet):
    # H 67 -> 34 -> 17 -> 9 -> 5 -> 3, W 83 -> 42 -> 21 -> 11 -> 6 -> 3. Each decoder block is a
    # bias-free 3x3 conv (9 * c_in * c_out) and a BatchNorm (2 * c_out) at the size of the skip it
    # meets; c_in = the block below plus the skip, c_out = max(16, skip / 4):
    # blocks.0: 512 + 256 -> 64 at layer3's 5 x 6 (442,368 + 128); blocks.1: 64 + 128 -> 32 at
    # 9 x 11 (55,296 + 64); blocks.2: 32 + 64 -> 16 at 17 x 21 (13,824 + 32); blocks.3: 16 + 64
    # -> 16 at the stem's 34 x 42 (11,520 + 32); image: 3 -> 16 (432 + 32); final: 16 + 16 -> 16
    # (4,608 + 32); head: a 1x1 conv 16 -> 5 with bias (85). Decoder: 528,453.
    Claim("unet_resnet18", (3, 67, 83),
          (S("backbone", (64, 34, 42), 11_176_512), S("decoder.blocks.0", (64, 5, 6), 442_496),
           S("decoder.blocks.1", (32, 9, 11), 55_360), S("decoder.blocks.2", (16, 17, 21), 13_856),
           S("decoder.blocks.3", (16, 34, 42), 11_552), S("decoder.image", (16, 67, 83), 464),
           S("decoder.final", (16, 67, 83), 4_640), S("decoder.head", (5, 67, 83), 85)),
          ((5, 67, 83),), 11_704_965, expand=("decoder", "decoder.blocks")),
    # On VGG16's blocks, whose 2x2 pools round down (floor(n / r)): H 67 -> 33 -> 16 -> 8 -> 4 -> 2,
    # W 83 -> 41 -> 20 -> 10 -> 5 -> 2. blocks.0: 512 + 512 -> 128 (1,179,648 + 256); blocks.1:
    # 128 + 256 -> 64 (221,184 + 128); blocks.2: 64 + 128 -> 32 (55,296 + 64); blocks.3: 32 + 64
    # -> 16 (13,824 + 32); image, final and head as above. Decoder: 1,475,621; VGG16's convs 14,714,688.
    Claim("unet_vgg16_blocks", (3, 67, 83),
          (S("backbone", (64, 33, 41), 14_714_688), S("decoder.blocks.0", (128, 4, 5), 1_179_904),
           S("decoder.blocks.1", (64, 8, 10), 221_312), S("decoder.blocks.2", (32, 16, 20), 55_360),
           S("decoder.blocks.3", (16, 33, 41), 13_856), S("decoder.image", (16, 67, 83), 464),
           S("decoder.final", (16, 67, 83), 4_640), S("decoder.head", (5, 67, 83), 85)),
          ((5, 67, 83),), 16_190_309, expand=("decoder", "decoder.blocks")),
    # --- Output stride: dilated instead of strided (pyramids.dilation), at 225 x 300 ------------
    # Conv arithmetic: a 3x3 conv with stride 1, dilation d and padding d keeps the side
    # (n + 2d - 2d - 1) + 1 = n, so past the output stride every level keeps the previous one's size.
    # ResNet18 at output stride 8: H 225 -> 113 (conv1 7x7/2 p3) -> 57 (maxpool 3x3/2 p1) -> 29
    # (layer2 3x3/2 p1), then layer3 (dilation 2) and layer4 (dilation 4) stay at 29; W 300 -> 150
    # -> 75 -> 38. Dilation adds no parameter: the total is torchvision's num_params for resnet18.
    Claim("resnet18_os8_pyramid", (3, 225, 300), (S("body", (), 11_689_512),),
          ((64, 113, 150), (64, 57, 75), (128, 29, 38), (256, 29, 38), (512, 29, 38)), 11_689_512),
    # MobileNetV3-Large at output stride 16 (torchvision's dilated=True): widths 16, 24, 40, 112 and
    # the 1x1 conv 960 (Howard et al. 2019, table 1); H 225 -> 113 (stem 3x3/2 p1) -> 57 (3x3/2 p1)
    # -> 29 (5x5/2 p2) -> 15 (3x3/2 p1), then the last stage (5x5, dilation 2, padding 4) stays at
    # 15; W 300 -> 150 -> 75 -> 38 -> 19. Total: torchvision's num_params for mobilenet_v3_large.
    Claim("mobilenet_v3_large_os16_pyramid", (3, 225, 300), (S("body", (), 5_483_032),),
          ((16, 113, 150), (24, 57, 75), (40, 29, 38), (112, 15, 19), (960, 15, 19)), 5_483_032),
    # A DeepLabv3 head (21 classes, 256 channels) on ResNet18 at output stride 8. The head's
    # parameters: ASPP's 1x1 branch 512*256 + 2*256 = 131,584; three 3x3 branches 3 * (9*512*256 +
    # 512) = 3,540,480; the pooling branch 131,584; the projection 5*256*256 + 512 = 328,192; the
    # 3x3 conv 9*256*256 + 512 = 590,336; the classifier 256*21 + 21 = 5,397: 4,727,573 in all.
    # Its logits are at the coarsest level's size (29 x 38), upsampled to the input's.
    # torchinfo reports the first tensor of a child that returns several (the pyramid's stem).
    Claim("resnet18_os8_deeplab", (3, 225, 300),
          (S("backbone", (64, 113, 150), 11_689_512), S("head", (21, 29, 38), 4_727_573)),
          ((21, 225, 300),), 16_417_085),
)
