"""What the chapters show: tables and source listings, rendered the same way every run."""

from __future__ import annotations

import html
import inspect
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Source", "Table", "fmt_int", "fmt_shape", "prose", "show_source"]


@dataclass(frozen=True)
class Table:
    """A small table that renders as HTML in the book and as aligned text elsewhere."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def __post_init__(self) -> None:
        for what, cells in (("columns", self.columns), *((f"row {r!r}", r) for r in self.rows)):
            if isinstance(cells, str) or not isinstance(cells, Sequence):
                raise TypeError(f"Table {what} must be a tuple of str, got {type(cells).__name__}")
            bad = [c for c in cells if not isinstance(c, str)]
            if bad:
                raise TypeError(f"Table cells must be str (format numbers first, e.g. fmt_int(n)); "
                                f"{what} has {bad[0]!r} of type {type(bad[0]).__name__}")
        if not isinstance(self.caption, str):
            raise TypeError(f"Table caption must be a str, got {type(self.caption).__name__}")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(self.columns)}: {self.columns!r}")

    def __repr__(self) -> str:
        # the widest cell of each column; without rows, the header alone
        widths = [max([len(c), *(len(r[i]) for r in self.rows)]) for i, c in enumerate(self.columns)]

        def line(cells: Sequence[str]) -> str:
            padded = (c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
            return "  ".join(padded)

        out = [self.caption] if self.caption else []
        out += [line(self.columns), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in self.rows]
        return "\n".join(s.rstrip() for s in out)

    def _repr_html_(self) -> str:
        def cell(tag: str, text: str, i: int) -> str:
            return f'<{tag} style="text-align:{"right" if i else "left"}">{html.escape(text)}</{tag}>'

        head = "".join(cell("th", c, i) for i, c in enumerate(self.columns))
        body = "".join("<tr>" + "".join(cell("td", c, i) for i, c in enumerate(r)) + "</tr>" for r in self.rows)
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def fmt_shape(shape: Sequence[int]) -> str:
    """(64, 56, 56) -> '64 x 56 x 56'."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"fmt_shape expects a shape: a sequence of ints such as (64, 56, 56), got {shape!r}")
    return " x ".join(str(s) for s in shape)


def fmt_int(n: int) -> str:
    """12345 -> '12,345'."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"fmt_int expects an int such as 12345, got {type(n).__name__} {n!r}")
    return f"{n:,}"


class Source:
    """The source of a package object, rendered as a Python code block (not a copy that can drift)."""

    def __init__(self, obj: object) -> None:
        try:
            self.code = textwrap.dedent(inspect.getsource(obj))  # type: ignore[arg-type]
        except (TypeError, OSError) as err:
            raise TypeError(
                f"show_source expects a function, class, method or module defined in a source file, "
                f"got {type(obj).__name__} {obj!r:.60} ({err})"
            ) from None

    def __repr__(self) -> str:
        return self.code

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.code}```"


def show_source(obj: object) -> Source:
    return Source(obj)


def prose(**values: object) -> None:
    """Hand values to the chapter's prose, where ``{glue:text}`name``` shows them.

    The chapters' one way to put a computed number in a sentence: each value is glued with
    MyST-NB and not displayed in the cell. Glue raw numbers and format them in the role,
    e.g. ``{glue:text}`ratio:.2f``` or ``{glue:text}`params:,d```.
    """
    from myst_nb import glue  # only the chapters need MyST-NB

    if not values:
        raise TypeError("prose expects values by name, e.g. prose(params=n), got none")
    for name, value in values.items():
        glue(name, value, display=False)
