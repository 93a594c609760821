"""What the chapters show: tables and source listings, rendered the same way every run."""

from __future__ import annotations

import html
import inspect
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """A small table that renders as HTML in the book and as aligned text elsewhere."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(self.columns)}: {self.columns!r}")

    def __repr__(self) -> str:
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) for i, c in enumerate(self.columns)]

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
    return " x ".join(str(s) for s in shape)


def fmt_int(n: int) -> str:
    return f"{n:,}"


class Source:
    """The source of a package object, rendered as a Python code block (not a copy that can drift)."""

    def __init__(self, obj: object) -> None:
        self.code = textwrap.dedent(inspect.getsource(obj))  # type: ignore[arg-type]

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

    for name, value in values.items():
        glue(name, value, display=False)
