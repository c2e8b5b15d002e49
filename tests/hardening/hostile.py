"""Attacker-chosen strings, and a store whose products, hosts, paths and model ids carry them.

Each string targets one renderer: HTML/script, Markdown images and links (a tracking beacon),
Rich markup (``[/]`` used to crash listings), ANSI and OSC sequences (colour, clear screen,
window title, hidden hyperlink), bidirectional overrides, NUL, a newline that forges a table
row, CSV formulas, Streamlit directives, and a 1 MB string.
"""

from __future__ import annotations

from dataclasses import replace

from provenance.records import ExchangeRecord, Observation, Source
from provenance.store import open_store
from tests.store.factories import make_record

BEACON = "http://beacon.attacker.test/pixel.png"
HOSTILE = [
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
    f"![]({BEACON})",
    "[click me](http://attacker.test/login)",
    "see www.attacker.test or mail ceo@attacker.test",
    "[/]",
    "[bold red]loud[/bold red] [link=http://attacker.test]hidden[/link]",
    "\x1b[31mred\x1b[0m\x1b[2J\x1b[H",
    "\x1b]0;owned title\x07\x1b]8;;http://attacker.test\x1b\\link\x1b]8;;\x1b\\",
    "gpt-4o\u202eflipped\u202c\u2066iso\u2069",
    "nul\x00byte",
    "forged\n| row | injected |\r\noverwrite",
    '=HYPERLINK("http://attacker.test","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tlead-tab",
    ":red[colour] :material/warning: $x^2$",
    "`code` **bold** _em_ <b>b</b> &amp; # heading",
]
BIG = "A" * 1_000_000
#: Characters that must not reach any text output raw.
FORBIDDEN = ["\x1b", "\x07", "\x00", "\u202e", "\u2066", "\u2069", "\u202c", "\r"]


def _record(i: int, text: str) -> ExchangeRecord:
    """Exchange ``i`` of :func:`tests.store.factories.make_record`, with ``text`` in every field
    a listing, report or page shows."""
    base = make_record(i, model=f"m{i} {text}", product=f"p{i} {text}", provider=None)
    return replace(
        base,
        host=f"h{i}.{text[:40]}",
        path=f"/v1/{text}",
        request_headers=[("x-hostile", text)],
        request_body=text,
        response_body=text,
        observations=[Observation(f"m{i} {text}", Source.RESPONSE_FIELD, "$.model", "response")],
    )


def seed_hostile(url: str, *, big: bool = True, extra: tuple[str, ...] = ()) -> list[str]:
    """Fill the store at ``url``; returns the strings used (one product per string)."""
    texts = [*HOSTILE, *extra, *([BIG] if big else [])]
    store = open_store(url, create=True)
    store.write_exchanges([_record(i, t) for i, t in enumerate(texts)])
    store.close()
    return texts
