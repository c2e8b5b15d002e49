"""The Product and Fingerprints pages link a fingerprint run to the exchanges its channel used.

Over ``tests/reporting/channel_seed.py``: a replay run (template and probe exchanges, no usage,
partial), a guided run (matched exchanges) and an old API run, under a hostile product name.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from provenance.display.contract import render_markdown
from tests.reporting.channel_seed import GUIDED_RUN, HOSTILE_PRODUCT, seed_channel_runs

PAGES = Path(__file__).resolve().parents[2] / "dashboards" / "pages"


@pytest.fixture
def seeded(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    found = seed_channel_runs(sqlite_url)
    monkeypatch.setenv("PROVENANCE_DB", sqlite_url)
    return found


def _page(name: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _exchange_links(at: AppTest) -> dict[str, int]:
    """label → exchange id of every link to the Exchange page."""
    out = {}
    for el in at.main:
        if el.type == "page_link" and "exchange" in el.proto.page:
            query = parse_qs(el.proto.query_string)
            out[el.proto.label] = int(query["id"][0])
    return out


def test_product_page_links_each_run_to_its_exchanges(seeded) -> None:
    at = _page("5_Product.py", product=HOSTILE_PRODUCT)
    links = _exchange_links(at)
    assert links[f"template: exchange {seeded['template']}"] == seeded["template"]
    for probe in seeded["probes"]:
        assert links[f"probe: exchange {probe}"] == probe
    for matched in seeded["matched"]:
        assert links[f"matched: exchange {matched}"] == matched
    runs = {r["run"]: r for r in at.dataframe[-1].value.to_dict("records")}
    replay = runs[seeded["runs"]["replay"]]
    probes = ", ".join(str(i) for i in seeded["probes"])
    assert replay["channel"] == (
        f"replay of exchange {seeded['template']}; probes sent as exchanges {probes}"
    )
    assert (
        "decided from stream boundaries" in replay["notes"]
        and "partial: HTTP 429" in replay["notes"]
    )
    guided = runs[seeded["runs"]["guided"]]
    assert guided["channel"].startswith(f"guided (run {GUIDED_RUN}); probes matched in exchanges")
    assert seeded["runs"]["api"] not in runs  # the old API run counts for its endpoint


def test_product_page_notes_and_escapes_what_the_run_says(seeded) -> None:
    at = _page("5_Product.py", product=HOSTILE_PRODUCT)
    infos = [i.value for i in at.info]
    assert any("usage reported\\: no — decided from stream boundaries" in i for i in infos)
    partial = [w.value for w in at.warning if "partial" in w.value]
    assert len(partial) == 1 and "HTTP 429" in partial[0]
    texts = [*partial, *infos, *(m.value for m in at.markdown), *(c.value for c in at.caption)]
    texts += [el.proto.label for el in at.main if el.type == "page_link"]
    rendered = render_markdown("\n\n".join(texts))  # as a Markdown renderer shows them
    assert not [bad for bad in ("<script", "<a ", "<img") if bad in rendered], rendered
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in rendered  # the failure line, as text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in rendered  # the template's path


def test_fingerprints_page_shows_the_chosen_runs_channel(seeded) -> None:
    at = _page("3_Fingerprints.py")
    table = {r["Run"]: r for r in at.dataframe[0].value.to_dict("records")}
    assert table[seeded["runs"]["api"]]["Channel"] == "api"
    assert table[seeded["runs"]["guided"]]["Channel"].startswith("guided")
    at.selectbox[0].select(seeded["runs"]["replay"]).run()
    assert not at.exception
    links = _exchange_links(at)
    assert set(links.values()) == {seeded["template"], *seeded["probes"]}
