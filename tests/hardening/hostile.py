"""Attacker-chosen strings, and a store whose products, hosts, paths and model ids carry them.

Each string targets one renderer: HTML/script, Markdown images and links (a tracking beacon),
Rich markup (``[/]`` used to crash listings), ANSI and OSC sequences (colour, clear screen,
window title, hidden hyperlink), bidirectional overrides, NUL, a newline that forges a table
row, CSV formulas, Streamlit directives, and a 1 MB string.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from provenance.records import ExchangeRecord, Observation, Origin, Source, Usage
from provenance.store import open_store

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

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _record(i: int, text: str) -> ExchangeRecord:
    return ExchangeRecord(
        started_at=T0 + timedelta(minutes=i),
        method="POST",
        scheme="https",
        host=f"h{i}.{text[:40]}",
        port=443,
        path=f"/v1/{text}",
        status=200,
        provider=None,
        product=f"p{i} {text}",
        api="openai.chat",
        content_type="application/json",
        latency_ms=10.0,
        ttfb_ms=5.0,
        streamed=False,
        request_size=10,
        response_size=10,
        request_headers=[("x-hostile", text)],
        response_headers=[("content-type", "application/json")],
        request_body=text,
        response_body=text,
        request_digest="a" * 64,
        response_digest="b" * 64,
        bodies_truncated=False,
        usage=Usage(input_tokens=1, output_tokens=1, raw={}),
        observations=[Observation(f"m{i} {text}", Source.RESPONSE_FIELD, "$.model", "response")],
        parse_errors=[],
        origin=Origin.LIVE,
    )


def seed_hostile(url: str, *, big: bool = True) -> list[str]:
    """Fill the store at ``url``; returns the strings used (one product per string)."""
    texts = HOSTILE + ([BIG] if big else [])
    store = open_store(url, create=True)
    store.write_exchanges([_record(i, t) for i, t in enumerate(texts)])
    store.close()
    return texts
