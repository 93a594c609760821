"""Cutting a model through its children: ``named_children()``, i.e. its ``_modules`` in order.

A cut keeps the children in registration order up to a name and chains them in an
``nn.Sequential``. That is only the model's function if its ``forward`` calls exactly those
children in that order and nothing else: true for ResNet up to ``avgpool`` and for VGG's
``features``; false past ResNet's ``avgpool`` (``forward`` flattens before ``fc``, and the
flatten is not a child) and inside a residual block (the shortcut add is not a child).
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from backbones_tutorial.checks import check_choice, check_name, check_type

__all__ = ["child_table", "cut_children", "truncate", "up_to"]


_SHAPE_KEEPING = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)  # looked past: EfficientNet's head


def _first_leaf(module: nn.Module) -> nn.Module:
    """The first leaf that ``module`` runs (a Sequential runs its children in order), past the
    dropouts and identities, which change no shape."""
    leaves = [m for m in module.modules() if next(m.children(), None) is None]
    return next((m for m in leaves if not isinstance(m, _SHAPE_KEEPING)), leaves[0] if leaves else module)


def truncate(model: nn.Module, name: str) -> nn.Sequential:
    """The children of ``model`` up to and including ``name``, as an ``nn.Sequential``.

    ``name`` is a top-level child (``"layer3"``) or a dotted path into nested ``nn.Sequential``
    containers (``"layer3.0"``: everything before ``layer3``, then its first block).
    The result shares its modules with ``model`` (no copy) and holds no reference to the
    children it dropped, so deleting ``model`` frees their parameters.
    """
    check_type(model, nn.Module, "model")
    check_name(name)
    return cut_children(model, name, "")


def cut_children(model: nn.Module, name: str, parent: str) -> nn.Sequential:
    head, _, rest = name.partition(".")
    path = parent + head
    children = OrderedDict(model.named_children())
    check_choice(head, children, f"child of {parent.rstrip('.') or type(model).__name__}")

    kept: OrderedDict[str, nn.Module] = OrderedDict()
    for child_name, child in children.items():
        if child_name == head:
            break
        kept[child_name] = child
    last = children[head]
    if rest:
        if not isinstance(last, nn.Sequential):
            raise ValueError(
                f"cannot cut inside {path!r}: it is a {type(last).__name__}, whose forward is not a plain "
                f"sequence of its children (only nn.Sequential containers can be cut); cut at {path!r} or "
                f"at a name before it"
            )
        last = cut_children(last, rest, path + ".")
    kept[head] = last

    flattens = type(model).forward is not nn.Sequential.forward  # a plain Sequential has no hidden flatten
    if flattens and isinstance(_first_leaf(kept[head]), nn.Linear) and len(kept) > 1:
        previous = list(kept)[-2]
        raise ValueError(
            f"cutting at {path!r} keeps a Linear layer right after {parent + previous!r}, but "
            f"{type(model).__name__}.forward flattens between them, and that flatten is not a child; "
            f"cut at {previous!r} and flatten yourself (or append nn.Flatten(1) and the head by hand)"
        )
    cut = nn.Sequential(kept)
    cut.training = model.training  # the container only: its children keep their own mode
    return cut


def up_to(model: nn.Module, name: str) -> list[str]:
    """The names of the children of ``model`` from the first up to and including ``name``, e.g.
    ``up_to(resnet, "layer2")`` is ``["conv1", "bn1", "relu", "maxpool", "layer1", "layer2"]``.

    A dotted ``name`` (``"body.layer1"``) lists the children of the module it is in, with their
    full names (``"body.conv1"``, ...). This is the package's one way to say "everything up to
    ``layer2``", for ``freeze`` as for a cut.
    """
    check_type(model, nn.Module, "model")
    check_name(name)
    parent_name, _, child = name.rpartition(".")
    modules = dict(model.named_modules())
    check_choice(parent_name, [n for n in modules if next(modules[n].children(), None) is not None],
                 f"module of {type(model).__name__} with children")
    children = [n for n, _ in modules[parent_name].named_children()]
    check_choice(child, children, f"child of {parent_name or type(model).__name__}")
    prefix = parent_name + "." if parent_name else ""
    return [prefix + n for n in children[: children.index(child) + 1]]


def child_table(model: nn.Module) -> list[tuple[int, str, str]]:
    """(index, name, class) of each top-level child: what ``named_children()`` walks."""
    check_type(model, nn.Module, "model")
    return [(i, n, type(m).__name__) for i, (n, m) in enumerate(model.named_children())]
