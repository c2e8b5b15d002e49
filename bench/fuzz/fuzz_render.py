"""Renderers (terminal, Markdown, HTML, CSV): no markup, control sequence or formula survives."""

from __future__ import annotations

import atheris

from bench.fuzz.common import FuzzFinding, main

with atheris.instrument_imports(include=["provenance"]):
    from provenance.display.contract import violations

SEEDS = [
    b"![](http://beacon.attacker.test/p.png) [x](http://a.test) <script>alert(1)</script>",
    b"\x1b]0;title\x07\x1b[2J [/] [link=http://a.test]x[/link] \xe2\x80\xae flipped",
    b'=HYPERLINK("http://a.test") | row |\n| forged | row |\r\n@SUM(1)',
    "www.a.test ceo@a.test `code` **b** $x$ :red[c] \ud800".encode("utf-8", "surrogatepass"),
]


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogatepass") if _decodes(data) else data.decode("latin-1")
    found = violations(text)
    if found:
        raise FuzzFinding(f"{found[0]} for {text[:80]!r}")


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False
    return True


if __name__ == "__main__":
    main(test_one_input)
