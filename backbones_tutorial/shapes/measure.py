"""Measuring models with torchinfo, and checking them against the claims record.

``measure`` runs torchinfo on a model; ``check_claim`` measures the model a claim names (built
from the registry, ``registry.MODELS``) and fails on any difference; ``claims_table`` is the
chapters' only way to show shapes, and it checks before it shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torchinfo import summary

from backbones_tutorial.checks import check_choice, check_input_shape, check_type
from backbones_tutorial.display import Table, fmt_int, fmt_shape
from backbones_tutorial.registry import MODELS
from backbones_tutorial.shapes.claims import CLAIMS, Claim, Stage

__all__ = ["ClaimMismatch", "Measurement", "check_claim", "claims_table", "find_claim", "measure"]


class ClaimMismatch(AssertionError):
    """A model measured differently from what the claims record says."""


@dataclass(frozen=True)
class Measurement:
    stages: tuple[Stage, ...]
    outputs: tuple[tuple[int, ...], ...]
    total_params: int


def _tensors(out: object) -> list[torch.Tensor]:
    """The tensors a forward returned, in order (a tensor, a list/tuple, or a dict of them)."""
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _tensors(o)]
    raise TypeError(f"a forward should return a tensor, or a list, tuple or dict of them, got {type(out).__name__}")


def measure(model: nn.Module, input_shape: tuple[int, ...], expand: tuple[str, ...] = ()) -> Measurement:
    """Measure one sample of ``input_shape``: torchinfo gives each top-level child's output and
    parameters (a child called twice, like a block's ``relu``, is listed at its first call), and
    a forward pass gives the shape of every tensor the model returns. A child whose dotted path
    is in ``expand`` is replaced by its own children (recursively, when they are named too).
    """
    check_type(model, nn.Module, "model")
    _check_input_shape(input_shape)
    _check_expand(model, expand)
    was_training = model.training
    returned: list[object] = []  # what torchinfo's one forward returned, caught by a hook
    hook = model.register_forward_hook(lambda _m, _i, out: returned.append(out))
    try:
        stats = summary(model, input_size=(1, *input_shape), depth=1, verbose=0, mode="eval", device="cpu")
    except RuntimeError:  # torchinfo hides the cause under "Failed to run torchinfo": show the model's own
        hook.remove()
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
        raise
    finally:
        hook.remove()
        model.train(was_training)
    outputs = tuple(tuple(t.shape[1:]) for t in _tensors(returned[-1]))
    _top, *layers = stats.summary_list
    paths = {id(layer): _path(layer) for layer in layers}
    stages = tuple(
        Stage(paths[id(layer)], tuple(layer.output_size[1:]), layer.num_params)
        for layer in layers
        if not layer.is_recursive and paths[id(layer)] not in expand
        and (layer.depth == 1 or paths[id(layer)].rpartition(".")[0] in expand)
    )
    return Measurement(stages, outputs, stats.total_params)


def _path(layer: object) -> str:
    """The dotted path of a torchinfo row below the model (``decoder.blocks.0``)."""
    names = []
    while getattr(layer, "depth", 0) > 0:
        names.append(str(layer.var_name))  # type: ignore[attr-defined]
        layer = layer.parent_info  # type: ignore[attr-defined]
    return ".".join(reversed(names))


def _check_expand(model: nn.Module, expand: object) -> None:
    """``expand`` names submodules of ``model`` that have children, each with its parent expanded too."""
    submodules = dict(model.named_modules())
    if not isinstance(expand, tuple) or not all(isinstance(e, str) for e in expand):
        raise ValueError(f"expand must be a tuple of dotted submodule paths, e.g. ('decoder',); got {expand!r}")
    for name in expand:
        parent = name.rpartition(".")[0]
        if name not in submodules or not name or not any(True for _ in submodules[name].children()):
            raise ValueError(f"expand names {name!r}, which is not a submodule with children of "
                             f"{type(model).__name__}; valid choices: top-level children with children, "
                             f"e.g. {[n for n, m in model.named_children() if any(True for _ in m.children())]}")
        if parent and parent not in expand:
            raise ValueError(f"expand names {name!r} but not its parent {parent!r}: list the parent first")


def _check_input_shape(input_shape: object) -> tuple[int, ...]:
    """(C, H, W): three positive ints, so that (3, 224) is refused here rather than read as a 1-channel
    224-pixel-wide batch of 3 by the model's first convolution."""
    return check_input_shape(input_shape)


def find_claim(model: str, input_shape: tuple[int, ...] | None = None) -> Claim:
    """The claim for ``model`` (at ``input_shape``, or its first claim if none is given)."""
    check_choice(model, sorted({c.model for c in CLAIMS}), "model in the claims record")
    if input_shape is not None:
        input_shape = _check_input_shape(input_shape)
    found = [c for c in CLAIMS if c.model == model and (input_shape is None or c.input_shape == tuple(input_shape))]
    if not found:
        sizes = [c.input_shape for c in CLAIMS if c.model == model]
        raise ValueError(f"no claim for {model} at input shape {input_shape}; claimed input shapes: {sizes}")
    return found[0]


def check_claim(claim: Claim, model: nn.Module | None = None) -> Measurement:
    """Measure ``model`` (by default a fresh ``registry.MODELS[claim.model]``) and compare with ``claim``.

    Raises ClaimMismatch showing the claimed and the measured row for every difference.
    """
    check_type(claim, Claim, "claim", " (find one with find_claim(name))")
    if model is not None:
        check_type(model, nn.Module, "model")
    model = MODELS[claim.model].build() if model is None else model
    measured = measure(model, claim.input_shape, claim.expand)
    problems = []
    claimed_names = [s.name for s in claim.stages]
    measured_names = [s.name for s in measured.stages]
    if claimed_names != measured_names:
        problems.append(f"stages differ: claimed {claimed_names}, measured {measured_names}")
    for want, got in zip(claim.stages, measured.stages, strict=False):  # lengths may differ: reported above
        if want != got:
            problems.append(f"claimed  {want}\n    measured {got}")
    if claim.outputs != measured.outputs:
        problems.append(f"outputs: claimed {claim.outputs}, measured {measured.outputs}")
    if claim.total_params != measured.total_params:
        problems.append(f"total params: claimed {claim.total_params:,}, measured {measured.total_params:,}")
    if problems:
        where = f"{claim.model} at input {claim.input_shape}"
        raise ClaimMismatch(f"{where} does not match the claims record:\n  " + "\n  ".join(problems))
    return measured


def claims_table(model: str, input_shape: tuple[int, ...] | None = None, title: str | None = None) -> Table:
    """Check the claim for ``model`` and return it as a table: the chapters' only way to show shapes.

    ``title`` names the model for readers in the caption (e.g. "ResNet34"); without it the
    caption uses the registry name.
    """
    if title is not None and (not isinstance(title, str) or not title.strip()):
        raise ValueError(f"title must be a non-empty string naming the model for readers, got {title!r}")
    claim = find_claim(model, input_shape)
    check_claim(claim)
    rows = [(s.name, fmt_shape(s.shape), fmt_int(s.params)) for s in claim.stages]
    if len(claim.outputs) == 1:
        rows.append(("output", fmt_shape(claim.outputs[0]), fmt_int(claim.total_params)))
    else:
        rows += [(f"output {i}", fmt_shape(shape), "") for i, shape in enumerate(claim.outputs)]
        rows.append(("total", "", fmt_int(claim.total_params)))
    caption = f"{title or claim.model}, one input of {fmt_shape(claim.input_shape)} (checked with torchinfo)"
    return Table(("module", "output (C x H x W)", "parameters"), tuple(rows), caption)  # top-level children
