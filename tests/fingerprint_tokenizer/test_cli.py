"""`provenance fingerprint tokenizer` end to end: JSON output, exit codes, storage, no key leak."""

from __future__ import annotations

import json

from sqlalchemy import select

from provenance.cli.main import main
from provenance.standins.tokencount import EndpointConfig, StandInServer
from provenance.store import open_store
from provenance.store.models import FingerprintRunRow

SECRET = "sk-proj-TESTKEYdonotprint1234567890abcdef"


def test_cli_json_stores_run_and_never_prints_key(tmp_path, monkeypatch, capsys, tokenizer_for):
    handle = tokenizer_for("pkg:mistral-common:tekken_240911.json")
    db = f"sqlite:///{tmp_path / 'p.sqlite'}"
    monkeypatch.setenv("MY_KEY", SECRET)
    config = EndpointConfig("mistral", "segments", "secret system prompt", 5)
    with StandInServer(lambda t, p: handle.count(t, specials=p), config) as server:
        code = main(
            [
                "fingerprint",
                "tokenizer",
                f"http://user:pw@{server.base[7:]}/v1?k=1",
                "--model",
                "m",
                "--api-key-env",
                "MY_KEY",
                "--db",
                db,
                "--json",
                "--product",
                "demo",
            ]
        )
    out = capsys.readouterr()
    assert code == 0
    doc = json.loads(out.out)
    assert doc["verdict"] == "mistral-tekken" and doc["requests"] <= 4
    assert "mistral-nemo" in doc["families"]
    assert SECRET not in out.out + out.err
    assert "pw@" not in doc["target"] and "k=1" not in doc["target"]
    store = open_store(db)
    with store.session() as s:
        row = s.execute(select(FingerprintRunRow)).scalar_one()
    store.close()
    assert (row.kind, row.verdict, row.product, row.requests) == (
        "tokenizer",
        "mistral-tekken",
        "demo",
        doc["requests"],
    )
    assert row.result["ranking"][0]["tokenizer"] == "mistral-tekken"
    assert SECRET not in (tmp_path / "p.sqlite").read_bytes().decode("latin-1")


def test_null_verdict_exits_zero_and_no_store(tmp_path, capsys, trained_tokenizers):
    handle = trained_tokenizers["trained-unigram-900"]
    config = EndpointConfig("plain", "rendered-text", "", 0)
    with StandInServer(lambda t, p: handle.count(t, specials=p), config) as server:
        code = main(
            [
                "fingerprint",
                "tokenizer",
                server.base,
                "--api",
                "anthropic",
                "--model",
                "m",
                "--no-store",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0 and "verdict: null" in out
    assert not list(tmp_path.glob("*.sqlite"))


def test_missing_key_variable_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    code = main(
        [
            "fingerprint",
            "tokenizer",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--api-key-env",
            "NOPE_KEY",
            "--no-store",
        ]
    )
    assert code == 2 and "NOPE_KEY" in capsys.readouterr().err


def test_max_requests_below_two_is_a_usage_error(capsys):
    code = main(
        [
            "fingerprint",
            "tokenizer",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--max-requests",
            "1",
            "--no-store",
        ]
    )
    assert code == 2 and "--max-requests" in capsys.readouterr().err
