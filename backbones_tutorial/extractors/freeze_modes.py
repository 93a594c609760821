"""The freeze modes: one vocabulary for ``freeze()``, the segmentation code and the command line.

Plain strings, without torch, so that ``python -m backbones_tutorial segment --help`` lists them.
"""

__all__ = ["BATCHNORM_MODES", "FREEZE_MODES"]

# What freeze() does with the BatchNorm layers under the names it freezes:
# "frozen": replaced by FrozenBatchNorm2d; "eval": kept, held in eval mode; "train": left alone (the pitfall).
BATCHNORM_MODES = ("frozen", "eval", "train")
# How the segmentation commands treat the backbone: "none" trains everything; any other mode
# freezes the backbone with freeze(backbone, names, batchnorm=mode).
FREEZE_MODES = ("none", *BATCHNORM_MODES)
