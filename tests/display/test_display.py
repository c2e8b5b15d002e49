"""The rendering rule itself: what each medium's escape lets through, checked exhaustively."""

from __future__ import annotations

import csv
import io
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from provenance.display import csv_cell, html_text, md_code, md_text, shorten, visible
from provenance.display.contract import violations
from tests.hardening.hostile import BEACON, HOSTILE

UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def test_visible_escapes_every_control_format_and_surrogate_code_point() -> None:
    missed = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in UNSAFE_CATEGORIES and visible(chr(cp)) == chr(cp)
    ]
    assert missed == []


def test_visible_shows_escapes_and_keeps_ordinary_text() -> None:
    assert visible("a\x1b[31mb\nc\u202ed\ud800") == "a\\x1b[31mb\\nc\\u202ed\\ud800"
    assert visible("кими-к2 模型 🚀 café") == "кими-к2 模型 🚀 café"
    assert visible(None) == "" and visible(42) == "42"
    visible("x\ud800").encode("utf-8")  # a lone surrogate no longer breaks encoding


def test_shorten_says_what_it_left_out() -> None:
    assert shorten("abc", 5) == "abc"
    assert shorten("a" * 10, 4) == "aaaa… (6 more characters)"


def _render(markdown: str) -> str:
    # CommonMark with raw HTML allowed, plus tables: the most permissive common renderer.
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def test_markdown_keeps_no_link_image_html_or_emphasis() -> None:
    for text in HOSTILE:
        for rendered in (_render(f"- {md_text(text)}"), _render(f"x {md_code(text)} y")):
            for tag in ("<a ", "<img", "<script", "<b>", "<strong>", "<em>", "<h1"):
                assert tag not in rendered, (text, rendered)
    table = "| a | b |\n|---|---|\n| " + md_text(HOSTILE[10], table=True) + " | x |\n"
    assert _render(table).count("<tr>") == 2  # header and one row: no forged row


def test_markdown_sets_linkifiable_words_as_code() -> None:
    out = md_text(f"see {BEACON} and www.attacker.test, ceo@attacker.test")
    assert f"`{BEACON}`" in out and "`www.attacker.test,`" in out and "`ceo@attacker.test`" in out


def test_markdown_reads_plainly_for_ordinary_ids() -> None:
    assert md_text("kimi-k2.5 via fireworks") == "kimi-k2.5 via fireworks"
    assert md_code("a`b") == "``a`b``"


def test_html_text_is_inert() -> None:
    out = html_text("<script>x</script>\" onload='y'\u202e")
    assert "<" not in out and '"' not in out and "'" not in out and "\u202e" not in out


def test_csv_cells_cannot_start_a_formula() -> None:
    buf = io.StringIO()
    csv.writer(buf).writerows([[csv_cell(t)] for t in HOSTILE] + [[csv_cell(-3)]])
    cells = [row[0] for row in csv.reader(io.StringIO(buf.getvalue()))]
    assert all(not c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)
    assert cells[HOSTILE.index("-2+3")] == "'-2+3" and cells[-1] == "-3"
    assert "\n" not in "".join(cells)


@given(st.text())
def test_the_display_contract_holds_for_any_text(text: str) -> None:
    assert violations(text) == []


def test_the_display_contract_can_fail(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import provenance.display.contract as contract

    assert violations("![](http://x/y.png) \x1b[2J =1") == []
    monkeypatch.setattr(contract, "md_text", lambda text: text)  # a renderer that escapes nothing
    monkeypatch.setattr(contract, "csv_cell", lambda text: text)
    found = violations("![](http://x/y.png) \x1b[2J")
    assert "markdown renders <img" in found and "markdown: unsafe code point" in found
    assert "csv: formula" in violations("=1")


@given(st.text())
def test_no_renderer_lets_a_control_sequence_through(text: str) -> None:
    for out in (visible(text), md_text(text), md_code(text), html_text(text), str(csv_cell(text))):
        assert not any(unicodedata.category(ch) in UNSAFE_CATEGORIES for ch in out)


@given(st.text())
def test_no_markdown_construct_survives(text: str) -> None:
    rendered = _render(f"- {md_text(text)}")
    assert "<a " not in rendered and "<img" not in rendered and "<script" not in rendered


@given(st.text())
def test_no_csv_formula_survives(text: str) -> None:
    cell = csv_cell(text)
    assert not str(cell).startswith(("=", "+", "-", "@", "\t", "\r"))
