"""Bad input to the product channels: one line, a non-zero exit, nothing sent, nothing stored
that should not be (a real store, real exchanges from the capture's own extraction)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from provenance.cli.main import main
from provenance.extract import ExtractOptions, extract
from provenance.records import RawExchange
from provenance.redact import Redactor
from provenance.store import open_store

KEY = "Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789AB"
BODY = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}


def stored(url: str, *, keep_bodies: bool = True, body: bytes | None = None) -> int:
    raw = RawExchange(
        started_at=datetime.now(UTC), method="POST", url="http://127.0.0.1:9/v1/chat/completions",
        request_headers=[("content-type", "application/json"),
                         ("authorization", KEY)],
        request_body=body if body is not None else json.dumps(BODY).encode(), status=200,
        response_headers=[("content-type", "application/json")], response_body=b'{"choices": []}',
    )  # fmt: skip
    record = extract(raw, redactor=Redactor.from_data_dir(),
                     options=ExtractOptions(keep_bodies=keep_bodies))  # fmt: skip
    with open_store(url, create=True) as store:
        return store.write_exchanges([record])[0]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(["fingerprint", "tokenizer", *argv])
    except SystemExit as done:
        code = int(done.code or 0)
    err = capsys.readouterr().err
    return code, err


def test_unknown_exchange(sqlite_url, capsys):
    stored(sqlite_url)
    code, err = run(capsys, "--from-exchange", "99", "--db", sqlite_url)
    assert code == 2 and "no exchange 99" in err and len(err.strip().splitlines()) == 1


def test_exchange_without_bodies(sqlite_url, capsys):
    exchange = stored(sqlite_url, keep_bodies=False)
    code, err = run(capsys, "--from-exchange", str(exchange), "--db", sqlite_url)
    assert code == 2 and "--no-bodies" in err


def test_missing_secret_names_the_flag_and_sends_nothing(sqlite_url, capsys):
    exchange = stored(sqlite_url)
    code, err = run(capsys, "--from-exchange", str(exchange), "--db", sqlite_url)
    assert code == 2 and "--header authorization=env:VAR" in err and "nothing was sent" in err
    with open_store(sqlite_url) as store, store.session() as s:
        from sqlalchemy import func, select

        from provenance.store.models import ExchangeRow, FingerprintRunRow

        assert s.scalar(select(func.count(ExchangeRow.id))) == 1
        assert s.scalar(select(func.count(FingerprintRunRow.id))) == 0


def test_unset_variable_and_literal_values_are_refused(sqlite_url, capsys, monkeypatch):
    exchange = str(stored(sqlite_url))
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    code, err = run(capsys, "--from-exchange", exchange, "--db", sqlite_url,
                    "--header", "authorization=env:NOPE_TOKEN")  # fmt: skip
    assert code == 2 and "NOPE_TOKEN: that variable is not set" in err
    code, err = run(capsys, "--from-exchange", exchange, "--db", sqlite_url,
                    "--header", "authorization=Bearer sk-typed-on-the-command-line")  # fmt: skip
    assert code == 2 and "env:VAR" in err and "sk-typed" not in err


def test_unreachable_product_is_a_partial_run_stored(sqlite_url, capsys, monkeypatch):
    exchange = str(stored(sqlite_url))
    monkeypatch.setenv("TOK", KEY)
    code, err = run(capsys, "--from-exchange", exchange, "--db", sqlite_url,
                    "--header", "authorization=env:TOK", "--min-interval", "0")  # fmt: skip
    assert code == 1 and "cannot reach 127.0.0.1/v1/chat/completions" in err
    assert "sk-proj" not in err
    with open_store(sqlite_url) as store, store.session() as s:
        from sqlalchemy import select

        from provenance.store.models import FingerprintRunRow

        [doc] = s.scalars(select(FingerprintRunRow.result)).all()
    assert doc["verdict"] is None and doc["failure"].startswith("cannot reach")
    assert doc["channel"]["template_exchange"] == int(exchange)
