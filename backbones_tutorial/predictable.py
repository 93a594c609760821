"""The architectures whose stage shapes ``predict.predict_shapes`` computes for any input size.

Names only, without torch, so that ``python -m backbones_tutorial --help`` lists the ``shapes``
command's choices without importing the models. ``registry.py`` reads this tuple to mark its
entries predictable; the tests check that every name here is a registered model.
"""

PREDICTABLE: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg16")

# The torchvision builders that ``backbones.backbone`` turns into a feature pyramid (issue 12), the
# other names the ``shapes`` command offers: it states their input-size contract.
PYRAMIDS: tuple[str, ...] = (
    *(f"resnet{d}" for d in (18, 34, 50, 101, 152)),
    "vgg16",
    *(f"convnext_{s}" for s in ("tiny", "small", "base", "large")),
    *(f"efficientnet_b{i}" for i in range(8)),
    *(f"efficientnet_v2_{s}" for s in ("s", "m", "l")),
    "mobilenet_v3_large", "mobilenet_v3_small",
    *(f"regnet_x_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
    *(f"regnet_y_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")),
    "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b",
    "vit_b_16",
)
SHAPES_CHOICES: tuple[str, ...] = (*PREDICTABLE, *(n for n in PYRAMIDS if n not in PREDICTABLE))
