"""Fingerprint runs in the audit report: their channel, the exchange ids they used, escaped.

The store holds a replay run (template and probe exchanges, no usage, partial), a guided run
(matched exchanges) and an API run of an older version, under a product whose name and whose
template's path carry HTML and Markdown links (``channel_seed.py``).
"""

from __future__ import annotations

import json

import pytest

from provenance.cli.main import main
from provenance.display.contract import render_markdown
from provenance.reporting.filters import AuditFilter
from provenance.reporting.report import build_report, render
from provenance.reporting.runs import channel_of, channel_text, usage_text
from provenance.store import open_store
from tests.reporting.channel_seed import GUIDED_RUN, HOSTILE_PRODUCT, seed_channel_runs

FORBIDDEN = ("<script", '<a href="https://evil', "<a href='https://evil", "<img")


@pytest.fixture
def seeded(sqlite_url: str) -> dict:
    return {"url": sqlite_url, **seed_channel_runs(sqlite_url)}


def _report(capsys, url: str, fmt: str) -> str:
    assert main(["report", "--db", url, "--format", fmt]) == 0
    return capsys.readouterr().out


def test_json_report_carries_each_runs_channel_and_exchange_ids(seeded, capsys) -> None:
    runs = {
        r["id"]: r for r in json.loads(_report(capsys, seeded["url"], "json"))["fingerprint_runs"]
    }
    replay = runs[seeded["runs"]["replay"]]
    assert replay["channel"]["kind"] == "replay"
    assert replay["channel"]["template_exchange"] == seeded["template"]
    assert replay["channel"]["exchanges"] == seeded["probes"] and len(seeded["probes"]) == 3
    assert replay["counts_for"] == HOSTILE_PRODUCT == replay["product"]
    assert replay["usage_reported"] is False and replay["decided_from"] == "stream-boundaries"
    assert replay["partial"] is True and "HTTP 429" in replay["failure"]
    guided = runs[seeded["runs"]["guided"]]
    assert guided["channel"]["kind"] == "guided" and guided["channel"]["run"] == GUIDED_RUN
    assert guided["channel"]["exchanges"] == seeded["matched"]
    assert guided["channel"]["template_exchange"] is None and guided["usage_reported"] is True
    old = runs[seeded["runs"]["api"]]
    assert old["channel"] == {
        "kind": "api", "target": "https://api.example/v1", "template_exchange": None,
        "exchanges": [],
    }  # fmt: skip
    assert old["counts_for"] == "endpoint:api.example" and old["usage_reported"] is None


def test_markdown_report_names_the_exchanges_and_escapes_the_data(seeded, capsys) -> None:
    out = _report(capsys, seeded["url"], "md")
    probes = ", ".join(str(i) for i in seeded["probes"])
    matched = ", ".join(str(i) for i in seeded["matched"])
    assert "## Fingerprint runs" in out
    assert f"replay of exchange {seeded['template']}; probes sent as exchanges {probes}" in out
    assert f"guided \\(run {GUIDED_RUN}\\); probes matched in exchanges {matched}" in out
    assert "decided from stream boundaries" in out and "partial\\: HTTP 429" in out
    rows = [ln for ln in out.splitlines() if ln.startswith(f"| {seeded['runs']['replay']} |")]
    assert len(rows) == 1 and rows[0].count(" | ") == 8  # one row, nine cells: no forged cell
    html = render_markdown(out)
    assert not [bad for bad in FORBIDDEN if bad in html], html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;[click](https://evil.example/p)" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html  # the template's path, in the target
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html  # the failure line


def test_html_report_links_runs_to_their_rows_and_escapes_the_data(seeded, capsys) -> None:
    page = _report(capsys, seeded["url"], "html")
    replay = seeded["runs"]["replay"]
    assert not [bad for bad in FORBIDDEN if bad in page]
    assert f"<tr id='run-{replay}'>" in page and f"<a href='#run-{replay}'>run {replay}</a>" in page
    assert f"replay of exchange {seeded['template']}; probes sent as exchanges " in page
    assert "usage reported: no — decided from stream boundaries; partial: HTTP 429" in page
    assert "class=partial" in page
    shown = "acme&lt;script&gt;alert(1)&lt;/script&gt;[click](https://evil.example/p)"
    assert f"<a href='#p-{shown}'>{shown}</a>" in page  # the run's product, to its section
    assert "&lt;script&gt;alert(2)&lt;/script&gt;[win](https://evil.example/t)" in page
    assert "endpoint:api.example" in page and "provenance exchanges show ID" in page


def test_a_product_filter_keeps_the_runs_that_count_for_it(seeded) -> None:
    with open_store(seeded["url"]) as store:
        doc = build_report(store, AuditFilter(product=HOSTILE_PRODUCT))
    kept = {r["id"] for r in doc["fingerprint_runs"]}
    assert kept == {seeded["runs"]["replay"], seeded["runs"]["guided"]}
    md = render(doc, "md")
    section = md.split("## Product ", 1)[1]
    assert f"- run {seeded['runs']['replay']} (tokenizer): replay of exchange" in section


@pytest.mark.parametrize(
    ("kind", "result", "expected"),
    [
        ("tokenizer", {}, {"kind": "api", "target": "t", "template_exchange": None,
                           "exchanges": []}),
        ("tokenizer-passive", {}, None),
        ("logits", {"verdict": "x"}, {"kind": "api", "target": "t", "template_exchange": None,
                                      "exchanges": []}),
        ("tokenizer", {"channel": {"kind": "replay", "template_exchange": "7",
                                   "exchanges": [3, True, -1, "4", 3, 5]}},
         {"kind": "replay", "target": "t", "template_exchange": None, "exchanges": [3, 5]}),
        ("tokenizer", {"channel": {"kind": "replay", "template_exchange": 7},
                       "evidence": [{"probe": "p1", "exchange": 8}, {"probe": "p2"}, "x"]},
         {"kind": "replay", "target": "t", "template_exchange": 7, "exchanges": [8]}),
    ],
)  # fmt: skip
def test_channel_of_reads_old_and_odd_documents(kind, result, expected) -> None:
    assert channel_of(kind, result, "t") == expected


def test_channel_and_usage_lines() -> None:
    replay = {"kind": "replay", "template_exchange": 12, "exchanges": [13, 14]}
    assert channel_text(replay) == "replay of exchange 12; probes sent as exchanges 13, 14"
    guided = {"kind": "guided", "template_exchange": None, "exchanges": [], "run": 5}
    assert channel_text(guided) == "guided (run 5); no probe matched"
    assert channel_text(None) == "captured traffic"
    assert usage_text({"usage_reported": None}) is None
    assert usage_text({"usage_reported": True}) is None
    assert usage_text({"usage_reported": False, "decided_from": "stream-boundaries"}) == (
        "usage reported: no — decided from stream boundaries"
    )
    assert usage_text({"usage_reported": False, "decided_from": "chat"}) == "usage reported: no"
