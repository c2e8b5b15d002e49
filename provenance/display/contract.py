"""The rendering rule as a property that can be checked on any string (tests and fuzzing).

:func:`violations` renders ``text`` the way every medium does — a terminal table cell, a console
line, Markdown text and code spans (then rendered by CommonMark with raw HTML allowed, the most
permissive common renderer), HTML text and a CSV cell — and returns what got through: a control,
format or surrogate code point, a Markdown link, image or HTML element, an HTML tag, or a CSV
cell that starts a formula. An empty list is the promise of :mod:`provenance.display`.
"""

from __future__ import annotations

import unicodedata

from provenance.display.cells import csv_cell
from provenance.display.markup import html_text, md_code, md_text
from provenance.display.terminal import cell, line
from provenance.display.text import visible

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_RENDERED_FORBIDDEN = ("<a ", "<img", "<script", "<iframe", "<b>", "<em>", "<strong>", "<h1")


def _unsafe(text: str) -> bool:
    return any(unicodedata.category(ch) in UNSAFE_CATEGORIES for ch in text)


def render_markdown(markdown: str) -> str:
    """CommonMark (raw HTML allowed) plus tables, as HTML."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def violations(text: str) -> list[str]:
    """What of ``text`` survives any renderer that must not (see the module docstring)."""
    found: list[str] = []
    outputs = {
        "visible": visible(text),
        "terminal cell": cell(text).plain,
        "console line": line(text),
        "markdown": md_text(text),
        "markdown code": md_code(text),
        "html": html_text(text),
        "csv": str(csv_cell(text)),
    }
    found += [f"{name}: unsafe code point" for name, out in outputs.items() if _unsafe(out)]
    rendered = render_markdown(f"- {outputs['markdown']}\n- {outputs['markdown code']}\n")
    found += [f"markdown renders {tag}" for tag in _RENDERED_FORBIDDEN if tag in rendered]
    if "<" in outputs["html"] or '"' in outputs["html"]:
        found.append("html: markup character")
    if outputs["csv"].startswith(FORMULA_START):
        found.append("csv: formula")
    return found
