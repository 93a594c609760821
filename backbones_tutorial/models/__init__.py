"""The models built from scratch (chapters 1 and 2), with torchvision's attribute names so that
torchvision's state dicts load strictly.

- ``blocks``: ``BasicBlock``, ``Bottleneck``, the 1x1 and 3x3 convolutions, the projection shortcut;
- ``resnet``: ``ResNet`` and a factory per depth (each one line of numbers).
"""
