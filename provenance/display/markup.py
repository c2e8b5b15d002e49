"""Captured text inside Markdown and HTML, inert whatever it holds.

Markdown is the hard one: several renderers read our reports (CommonMark with raw HTML allowed,
GitHub's cmark-gfm with its autolinks, Streamlit's remark-gfm, whose autolink pass runs over the
text *after* escapes are resolved). So :func:`md_text` does two things. Every ASCII punctuation
character is backslash-escaped (no link, image, emphasis, heading, list, table pipe, raw HTML,
Streamlit colour or LaTeX directive can start), and every word that a linkifier would turn into
a link (``scheme://``, ``www.``, ``user@host``, ``mailto:``) is set as a code span instead,
which no renderer linkifies. :func:`md_code` is the code-span form for identifiers.
"""

from __future__ import annotations

import html
import re
from typing import Any

from provenance.display.text import DISPLAY_LIMIT, shorten, visible

# The ASCII punctuation that can start Markdown syntax anywhere in a line (links, images, code,
# emphasis, raw HTML, entities, table pipes, headings, Streamlit's colour and icon directives,
# LaTeX); ``-``, ``.``, ``,``, ``/`` and the like stay readable (they only act at a line's start,
# and a value is always placed after other text).
_PUNCT = re.compile(r"[\\`*_{}\[\]()#!|<>~:$&^]")
_LINKISH = re.compile(r"://|www\.|@|mailto:|xmpp:", re.IGNORECASE)
_SPACE = re.compile(r"(\s+)")
_TICKS = re.compile(r"`+")


def md_text(value: Any, *, table: bool = False, limit: int = DISPLAY_LIMIT) -> str:
    """``value`` as literal Markdown text: what it says is what every renderer shows.

    ``table=True`` for a cell of a pipe table (a ``|`` inside a code span is escaped too).
    Longer values are cut at ``limit`` characters (see :func:`~provenance.display.text.shorten`).
    """
    text = shorten(visible(value), limit)
    out = []
    for part in _SPACE.split(text):
        if not part or part.isspace():
            out.append(part)
        elif _LINKISH.search(part):
            out.append(_code(part, table))
        else:
            out.append(_PUNCT.sub(lambda m: "\\" + m.group(), part))
    return "".join(out)


def md_code(value: Any, *, table: bool = False, limit: int = DISPLAY_LIMIT) -> str:
    """``value`` as one Markdown code span (``""`` for an empty value)."""
    return _code(shorten(visible(value), limit), table)


def _code(text: str, table: bool) -> str:
    if not text:
        return ""
    longest = max((len(run) for run in _TICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith(("`", " ")) or text.endswith(("`", " ")):
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def html_text(value: Any, *, limit: int = DISPLAY_LIMIT) -> str:
    """``value`` as HTML text, safe in element content and in quoted attribute values."""
    return html.escape(shorten(visible(value), limit), quote=True)
