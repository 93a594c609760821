"""Getting intermediate feature maps out of a model, and freezing it (chapters 3, 5 and 6).

- ``cut``: cutting a model through its children (``_modules`` in order);
- ``methods``: the six extraction methods behind one interface, one record per method;
- ``zoo``: ready extractors over torchvision models (VGG16's blocks, a cut ResNet34);
- ``freeze``: freezing by name, with BatchNorm handled on purpose;
- ``freeze_modes``: the freeze modes, one vocabulary for ``freeze()`` and the command line.
"""
