"""Feature pyramids and their level metadata (chapters 4 and 7).

- ``levels``: ``FeatureInfo`` and ``Levels``, the one home of level metadata and of the size rule;
- ``probe``: reading a model's levels from its tensors at a few sizes;
- ``resnet``: the ResNet pyramid, as a subclass and as a wrapper, over one stage walk;
- ``backbone``: ``backbone()``, the pyramid of every modern torchvision family;
- ``dilation``: output stride 16 or 8, deeper stages dilated instead of strided;
- ``windows``: Swin's window attention without size-dependent Python branches (exports at any size);
- ``vit``: ViTDet's simple pyramid on a plain ViT;
- ``fpn``: the Feature Pyramid Network on any pyramid;
- ``contract``: the input-size contract (level sizes, divisor, padding).
"""
