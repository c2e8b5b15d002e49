"""Plain text that shows what a string holds and cannot act on the screen that shows it.

:func:`visible` is the base of every renderer: a terminal, a Markdown or HTML report, a CSV cell
and a dashboard page all start from it. It replaces each character that could move the cursor,
start an escape sequence (ANSI CSI, OSC window titles and hyperlinks), reorder the text around it
(bidirectional overrides and isolates), hide itself (zero-width and other format characters), end
a line (so a value cannot forge a table row) or fail to encode (lone surrogates) with its escape:
``\\x1b``, ``\\n``, ``\\u202e``, ``\\ud800``. Everything else, non-Latin scripts and emoji
included, is kept as it is, so a model id reads as sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Unicode categories Cc (controls: C0, DEL, C1), Cf (format: bidi controls, zero-width
# characters, soft hyphen, BOM, tag characters ...), Cs (surrogates), Zl and Zp (line and paragraph
# separators), as code-point ranges (Unicode 15; tests check them against unicodedata).
_UNSAFE = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f\xad"
    "\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: How many characters a cell or line shows before :func:`shorten` cuts it.
DISPLAY_LIMIT = 500


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    cp = ord(ch)
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def visible(value: Any) -> str:
    """``value`` as text with every unsafe character shown as its escape (see the module).

    ``None`` becomes ``""``; other non-strings go through ``str`` first. The result contains no
    character of categories Cc, Cf, Cs, Zl or Zp, so it is one line and encodes as UTF-8.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def shorten(text: str, limit: int = DISPLAY_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def visible_deep(value: Any, leaf: Callable[[str], str] = visible) -> Any:
    """A copy of a JSON-like document with ``leaf`` applied to every string, keys included."""
    if isinstance(value, str):
        return leaf(value)
    if isinstance(value, dict):
        return {leaf(str(k)): visible_deep(v, leaf) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_deep(v, leaf) for v in value]
    return value
