"""`provenance exchanges`, `export` and `prune` over the seeded store."""

from __future__ import annotations

import json

from mitmproxy import io as mio

from provenance.cli.main import main
from tests.reporting.seed import KIMI, SECRET_HASH


def _json(capsys, *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_list_filters_by_product_model_and_time(seeded_url: str, capsys) -> None:
    doc = _json(capsys, "exchanges", "--db", seeded_url, "--json")
    assert doc["schema"] == "provenance.exchanges/1"
    assert len(doc["exchanges"]) == 15
    times = [e["started_at"] for e in doc["exchanges"]]
    assert times == sorted(times, reverse=True)
    doc = _json(capsys, "exchanges", "--db", seeded_url, "--json", "--product", "copilot")
    assert {e["product"] for e in doc["exchanges"]} == {"copilot"}
    assert doc["exchanges"][0]["models"] == ["gpt-4o", "gpt-4o-2024-08-06"]
    doc = _json(capsys, "exchanges", "--db", seeded_url, "--json", "--model", KIMI)
    assert len(doc["exchanges"]) == 4 + 1 + 3
    doc = _json(capsys, "exchanges", "--db", seeded_url, "--json", "--since", "2026-03-05")
    assert {e["product"] for e in doc["exchanges"]} == {"composer"}


def test_show_prints_one_redacted_exchange(seeded_url: str, capsys) -> None:
    listing = _json(capsys, "exchanges", "--db", seeded_url, "--json", "--product", "cursor")
    ex_id = listing["exchanges"][0]["id"]
    doc = _json(capsys, "exchanges", "show", str(ex_id), "--db", seeded_url, "--json")
    assert doc["schema"] == "provenance.exchange/1"
    assert doc["request_headers"] == [["authorization", f"Bearer [REDACTED:bearer:{SECRET_HASH}]"]]
    assert {o["location"] for o in doc["observations"]} == {"$.model"}
    assert main(["exchanges", "show", "999999", "--db", seeded_url]) == 2
    assert "no exchange with id 999999" in capsys.readouterr().err


def test_bad_since_is_a_usage_error(seeded_url: str, capsys) -> None:
    assert main(["exchanges", "--db", seeded_url, "--since", "yesterday-ish"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read time") and "7d" in err


def test_export_jsonl_and_har(seeded_url: str, capsys, tmp_path) -> None:
    out = tmp_path / "ev.jsonl"
    assert main(["export", "--db", seeded_url, "--format", "jsonl", "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 15 and all(line["schema"] == "provenance.exchange/1" for line in lines)
    har = tmp_path / "ev.har"
    assert main(["export", "--db", seeded_url, "--format", "har", "--out", str(har)]) == 0
    doc = json.loads(har.read_text())
    assert doc["log"]["version"] == "1.2" and len(doc["log"]["entries"]) == 15
    # mitmproxy reads our HAR back: the export is a real HAR, not a look-alike
    with har.open("rb") as fh:
        flows = list(mio.FlowReader(fh).stream())
    assert len(flows) == 15
    assert flows[0].request.host == "api.fireworks.ai"
    assert b"kimi-k2p5" in (flows[0].request.content or b"")


def test_prune_removes_old_exchanges_and_their_observations(seeded_url: str, capsys) -> None:
    assert main(["prune", "--db", seeded_url, "--before", "2026-03-02"]) == 0
    assert "deleted 10 exchanges" in capsys.readouterr().err
    doc = _json(capsys, "exchanges", "--db", seeded_url, "--json")
    assert len(doc["exchanges"]) == 5
    from provenance.store import open_store
    from provenance.store.models import ObservationRow

    with open_store(seeded_url).session() as s:
        assert s.query(ObservationRow).count() == 2 * 3 + 2  # composer d3–d5 req+resp, 1 + 1
