"""Every dashboard page, run headless by Streamlit's AppTest over the seeded store.

The assertions are on the values shown (product, base family, confidence), not only on the
absence of an exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.reporting.seed import KIMI, seed

PAGES = Path(__file__).resolve().parents[2] / "dashboards" / "pages"


@pytest.fixture
def db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    seed(sqlite_url)
    monkeypatch.setenv("PROVENANCE_DB", sqlite_url)
    return sqlite_url


def _page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_products_page_shows_product_base_model_and_confidence(db: str) -> None:
    at = _page("1_Products.py")
    assert at.title[0].value == "Which base model does each product run on?"
    table = at.dataframe[0].value
    rows = {r["Product"]: r for r in table.to_dict("records")}
    assert rows["cursor"]["Base model"] == "kimi-k2.5"
    assert rows["cursor"]["Confidence"] == pytest.approx(0.9)
    assert rows["cursor"]["Status"] == "identified"
    assert rows["copilot"]["Base model"] == "gpt-4o"
    assert rows["mystery"]["Status"] == "conflict" and rows["mystery"]["Base model"] == "—"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Products"] == "5" and metrics["Conflicts"] == "1"
    labels = [e.label for e in at.expander]
    assert "cursor → kimi-k2.5 (90%)" in labels
    cursor = at.expander[labels.index("cursor → kimi-k2.5 (90%)")]
    assert any(KIMI in md.value for md in cursor.markdown)
    composer = at.expander[[lbl.startswith("composer") for lbl in labels].index(True)]
    assert any("2026-03-04" in w.value for w in composer.warning)


def test_models_page_lists_raw_ids_with_families(db: str) -> None:
    at = _page("2_Models.py")
    rows = at.dataframe[0].value.to_dict("records")
    by_id = {(r["product"], r["model_id"]): r for r in rows}
    assert by_id[("copilot", "gpt-4o-2024-08-06")]["family"] == "gpt-4o"
    assert by_id[("cursor", KIMI)]["vendor"] == "moonshot"
    assert by_id[("cursor", KIMI)]["requests"] == 4
    assert at.subheader[0].value == "Exchanges per day"


def test_fingerprints_page_shows_runs_and_ranking(db: str) -> None:
    at = _page("3_Fingerprints.py")
    runs = at.dataframe[0].value.to_dict("records")
    assert runs[0]["Verdict"] == "qwen2" and runs[0]["Product"] == "mystery"
    ranking = at.dataframe[1].value.to_dict("records")
    assert [r["tokenizer"] for r in ranking] == ["qwen2", "cl100k"]


def test_traffic_page_filters_and_shows_a_redacted_exchange(db: str) -> None:
    at = _page("4_Traffic.py")
    assert len(at.dataframe[0].value) == 15
    product = at.selectbox[0]
    product.select("copilot").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["product"]) == {"copilot"} and len(table) == 3
    shown = at.json[0].value
    assert "[REDACTED:bearer:" in shown and "Bearer sk-" not in shown


def test_empty_store_gives_a_clear_message(sqlite_url: str, monkeypatch) -> None:
    from provenance.store import open_store

    open_store(sqlite_url, create=True).close()
    monkeypatch.setenv("PROVENANCE_DB", sqlite_url)
    at = _page("1_Products.py")
    assert "The store is empty" in at.info[0].value


def test_unopenable_store_is_a_message_not_a_traceback(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_DB", f"sqlite:///{tmp_path}/missing/none.sqlite")
    at = _page("1_Products.py")
    assert len(at.error) == 1
    message = at.error[0].value
    assert "none.sqlite" in message and "Traceback" not in message
    assert not at.dataframe  # the page stopped after the message


def _page_with(name: str, **params: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_product_page_shows_verdict_timeline_switch_and_evidence_links(db: str) -> None:
    at = _page_with("5_Product.py", product="composer")
    assert at.title[0].value == "composer"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Base model"] == "kimi-k2.5" and metrics["Status"] == "identified"
    assert any("2026-03-04" in w.value for w in at.warning)  # the switch, dated
    ids = at.dataframe[0].value.to_dict("records")
    assert {r["model id"] for r in ids} >= {KIMI}
    links = [el for el in at.main if el.type == "page_link"]
    assert links and any(KIMI in el.proto.label for el in links)
    assert any("id=" in str(el.proto.query_string) for el in links)


def test_product_page_for_an_unknown_product_says_so(db: str) -> None:
    at = _page_with("5_Product.py", product="no-such-product")
    assert "No product named" in at.warning[0].value


def test_exchange_page_shows_the_redacted_exchange_with_the_id_highlighted(db: str) -> None:
    at = _page_with("6_Exchange.py", id="1")
    assert at.title[0].value == "Exchange 1"
    found = [m.value for m in at.markdown if KIMI.replace("_", "\\_") in m.value or KIMI in m.value]
    assert any(":orange-background[" in m for m in found)  # the id, highlighted in its excerpt
    codes = " ".join(c.value for c in at.code)
    assert "Bearer sk-" not in codes
    headers = " ".join(str(v) for df in at.dataframe for v in df.value.to_dict("records"))
    assert "[REDACTED:bearer:" in headers


def test_exchange_page_for_a_missing_id_says_so(db: str) -> None:
    at = _page_with("6_Exchange.py", id="99999")
    assert "No exchange with id 99999" in at.warning[0].value


def test_filters_from_the_url_change_the_numbers(db: str) -> None:
    everything = _page_with("1_Products.py")
    last_day = _page_with("1_Products.py", since="2026-03-06")
    count = {m.label: m.value for m in everything.metric}["Exchanges"]
    narrowed = {m.label: m.value for m in last_day.metric}["Exchanges"]
    assert (count, narrowed) == ("15", "1")
    one = _page_with("1_Products.py", product="copilot")
    products = {r["Product"] for r in one.dataframe[0].value.to_dict("records")}
    assert products == {"copilot"}
    assert "Filtered:" in one.caption[0].value
    garbage = _page_with("1_Products.py", since="yesterday-ish", product="")
    assert {m.label: m.value for m in garbage.metric}["Exchanges"] == "15"


def test_report_downloads_follow_the_filter(db: str) -> None:
    at = _page_with("1_Products.py", product="cursor")
    buttons = [el for el in at.main if el.type == "download_button"]
    assert len(buttons) == 4


def test_the_filter_follows_the_reader_to_pages_opened_from_the_navigation(db: str) -> None:
    at = AppTest.from_file(str(PAGES.parent / "app.py"), default_timeout=60)
    at.query_params["product"] = "copilot"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    at.switch_page("pages/2_Models.py")
    for key in list(at.query_params):  # the navigation drops the URL's parameters
        del at.query_params[key]
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    products = {r["product"] for r in at.dataframe[0].value.to_dict("records")}
    assert products == {"copilot"}
    assert at.query_params["product"] in ("copilot", ["copilot"])  # the URL shows it again


@pytest.mark.parametrize(
    "raw",
    ["0", "-1", "abc", "1.5", " 1", "99999999999999999999999", "999999999999999999",
     "9007199254740993", "1e3", "", "١"],
)  # fmt: skip
def test_exchange_page_for_a_malformed_id_says_so_without_a_traceback(db: str, raw: str) -> None:
    at = _page_with("6_Exchange.py", id=raw)
    messages = " ".join(w.value for w in [*at.warning, *at.info])
    if raw:
        assert "No exchange with id" in messages and "whole number" in messages
    else:
        assert "exchange id" in messages.lower()
    assert not at.title  # no exchange shown
    assert "Traceback" not in messages and ".py" not in messages


def test_exchange_page_without_an_id_asks_for_one(db: str) -> None:
    at = AppTest.from_file(str(PAGES / "6_Exchange.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Type an exchange id" in " ".join(i.value for i in at.info)
    at.number_input[0].set_value(2).run()
    assert not at.exception and at.title[0].value == "Exchange 2"


def test_exchange_page_for_the_largest_id_says_it_is_not_in_the_store(db: str) -> None:
    at = _page_with("6_Exchange.py", id=str(2**53 - 1))
    assert f"No exchange with id {2**53 - 1} in the store" in at.warning[0].value
