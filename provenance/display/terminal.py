"""Captured text on a terminal: Rich renderables that are never parsed as markup.

Rich reads ``[bold]``, ``[link=...]`` and ``:emoji:`` in plain strings, and a stray ``[/]``
raises ``MarkupError``; a ``Text`` object is taken literally. Every table cell and title built
here is a ``Text`` of :func:`~provenance.display.text.visible` text, so neither Rich markup nor
terminal escape sequences in a value can reach the screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from provenance.display.text import DISPLAY_LIMIT, shorten, visible

EMPTY = "—"


def cell(value: Any, *, limit: int = DISPLAY_LIMIT) -> Any:
    """One table cell: ``None`` (or ``""``) as an em dash, anything else as literal text."""
    from rich.text import Text

    if value is None or value == "":
        return Text(EMPTY)
    return Text(shorten(visible(value), limit))


def line(value: Any, *, limit: int | None = None) -> str:
    """``value`` as one terminal-safe line for ``sys.stdout.write`` or a log message."""
    text = visible(value)
    return shorten(text, limit) if limit is not None else text


def table(title: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Any:
    """A Rich table of literal cells (titles and headers are literal too)."""
    from rich.table import Table
    from rich.text import Text

    out = Table(title=Text(visible(title)), show_lines=False)
    for col in columns:
        out.add_column(Text(visible(col)), overflow="fold")
    for row in rows:
        out.add_row(*(cell(v) for v in row))
    return out


PLAIN_EMPTY = "-"


def plain_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The same cells as plain text for a pipe or ``NO_COLOR``: a header line and one line per
    row, columns aligned with two spaces, no box drawing, no colour, no title; an empty cell is
    ``-`` so that ``awk``/``cut`` see a field."""
    header = [shorten(visible(c), DISPLAY_LIMIT) for c in columns]
    body = [
        [PLAIN_EMPTY if v is None or v == "" else shorten(visible(v), DISPLAY_LIMIT) for v in row]
        for row in rows
    ]
    widths = [len(h) for h in header]
    for row in body:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=False)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip()
             for r in [header, *body]]  # fmt: skip
    return "\n".join(lines) + "\n"
