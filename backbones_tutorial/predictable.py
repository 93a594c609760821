"""The architectures whose stage shapes ``predict.predict_shapes`` computes for any input size.

Names only, without torch, so that ``python -m backbones_tutorial --help`` lists the ``shapes``
command's choices without importing the models. ``registry.py`` reads this tuple to mark its
entries predictable; the tests check that every name here is a registered model.
"""

PREDICTABLE: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg16")
