"""``models_table`` and ``provenance models``: one row per (product, provider, model id)."""

from __future__ import annotations

from datetime import timedelta

from provenance.records import Observation, Source
from provenance.store import open_store
from provenance.store.queries import iso_utc, models_table
from tests.store.factories import T0, make_record

KIMI = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"


def seed(url: str) -> None:
    records = [
        # requested gpt-4o, answered as the dated snapshot: two rows, 3 exchanges each
        make_record(0, model="gpt-4o", answered="gpt-4o-2024-08-06"),
        make_record(1, model="gpt-4o", answered="gpt-4o-2024-08-06"),
        make_record(5, model="gpt-4o", answered="gpt-4o-2024-08-06"),
        # the same id in request and response of one exchange counts once
        make_record(2, model="gpt-4o", answered="gpt-4o"),
        # another product, a provider-less host, a protobuf id
        make_record(3, model=KIMI, product="cursor", provider="fireworks", host="api.fireworks.ai"),
        make_record(4, model="gpt-4o", product=None, provider=None, host="llm.internal"),
        make_record(6, model=None, product="claude-code"),  # no id at all: no row
    ]
    records[4].observations.append(Observation(KIMI, Source.PROTOBUF_FIELD, "5.1", "request"))
    records[0].observations.append(
        Observation("my-azure-deployment", Source.URL_PATH, "/deployments/{d}", kind="deployment")
    )
    with open_store(url, create=True) as store:
        store.write_exchanges(records)


def test_models_table_semantics(store_url: str, catalog) -> None:
    seed(store_url)
    with open_store(store_url) as store:
        rows = models_table(store)
    keyed = {(r["product"], r["provider"], r["model_id"]): r for r in rows}
    assert list(keyed) == [
        (None, None, "gpt-4o"),
        ("cursor", "fireworks", KIMI),
        ("cursor", "openai", "gpt-4o"),
        ("cursor", "openai", "gpt-4o-2024-08-06"),
    ]
    requested = keyed[("cursor", "openai", "gpt-4o")]
    assert requested["requests"] == 4  # exchanges 0, 1, 2, 5; exchange 2 carries it twice
    assert requested["sources"] == ["request_field", "sse_frame"]
    assert requested["first_seen"] == "2025-03-17T09:30:00.000Z"
    assert requested["last_seen"] == iso_utc(T0 + timedelta(seconds=5))
    assert (requested["family"], requested["vendor"]) == catalog("gpt-4o") == ("gpt-4o", "openai")

    answered = keyed[("cursor", "openai", "gpt-4o-2024-08-06")]
    assert (answered["requests"], answered["sources"]) == (3, ["sse_frame"])
    assert answered["first_seen"] == "2025-03-17T09:30:00.000Z"
    assert answered["last_seen"] == "2025-03-17T09:30:05.000Z"
    assert answered["family"] == "gpt-4o"

    kimi = keyed[("cursor", "fireworks", KIMI)]
    assert (kimi["requests"], kimi["sources"]) == (1, ["protobuf_field", "request_field"])
    assert (kimi["family"], kimi["vendor"]) == ("kimi-k2.5", "moonshot")
    assert all(r["model_id"] != "my-azure-deployment" for r in rows)


def test_product_filter_and_custom_resolver(store_url: str) -> None:
    seed(store_url)
    with open_store(store_url) as store:
        rows = models_table(store, product="cursor", resolver=lambda m: ("fam-" + m[:3], None))
        assert {r["model_id"] for r in rows} == {KIMI, "gpt-4o", "gpt-4o-2024-08-06"}
        assert {r["family"] for r in rows} == {"fam-acc", "fam-gpt"}
        assert models_table(store, product="nobody") == []


def test_models_cli_json_and_table(sqlite_url: str, cli, catalog, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")  # a wide terminal: no wrapping inside cells
    seed(sqlite_url)
    result = cli("models", "--db", sqlite_url, "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert doc["schema"] == "provenance.models/1"
    assert len(doc["models"]) == 4
    assert set(doc["models"][0]) == {
        "product",
        "provider",
        "model_id",
        "family",
        "vendor",
        "sources",
        "requests",
        "first_seen",
        "last_seen",
    }
    one = cli("models", "--db", sqlite_url, "--product", "cursor", "--json").json()["models"]
    assert {m["product"] for m in one} == {"cursor"}

    table = cli("models", "--db", sqlite_url)
    assert table.code == 0
    assert "gpt-4o-2024-08-06" in table.out
    # into a pipe: plain text, a header line and one line per row, no box drawing, no title
    lines = table.out.splitlines()
    assert lines[0].split()[:3] == ["product", "provider", "model"] and len(lines) == 5
    assert not set("┏┃│─") & set(table.out) and "Models seen" not in table.out


def test_empty_store_has_no_models(store_url: str, cli) -> None:
    open_store(store_url, create=True).close()
    assert cli("models", "--db", store_url, "--json").json() == {
        "schema": "provenance.models/1",
        "models": [],
    }
