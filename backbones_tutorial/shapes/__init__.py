"""Every shape and parameter count the book states, and how they are checked (every chapter).

- ``claims``: the claims record, data only;
- ``measure``: measuring a model with torchinfo and checking it against a claim;
- ``predict``: each stage's shape for any input size, from the conv and pool arithmetic.
"""
