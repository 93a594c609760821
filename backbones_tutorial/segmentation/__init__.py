"""The backbone at work: a U-Net trained on a pyramid, offline (chapter 8), and a DeepLab head
on a dilated pyramid (chapter 7).

- ``synthetic``: the segmentation task, drawn from a seed;
- ``unet``: the U-Net decoder on any pyramid that declares its levels;
- ``training``: training, evaluation and pretraining;
- ``freeze_study``: every freeze mode over several seeds, from one pretrained backbone;
- ``deeplab``: a DeepLabv3 head (ASPP) on a dilated pyramid (output stride 8 or 16).
"""
