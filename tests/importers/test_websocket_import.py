"""WebSocket sessions in recorded traffic are imported like live capture stores them.

A mitmproxy flow file written by ``mitmproxy.io.FlowWriter`` from a ``twebsocketflow()``-style
flow carrying an OpenAI Realtime session, and a Chrome HAR whose entry carries a Gemini Live
session in ``_webSocketMessages``: one exchange per session, the model ids, usage and a
redacted message log; ``provenance models --json`` lists the ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provenance.capture.convert import raw_exchange_from_flow
from provenance.cli.main import main as cli
from provenance.extract.websocket import WebSocketTap, extract_websocket
from provenance.importers.har import har_messages, is_websocket_entry
from provenance.importers.run import ImportOptions, import_file
from provenance.records import Origin
from provenance.redact import Redactor
from provenance.store import open_store
from tests.capture.dbrows import exchanges
from tests.importers.samples import (
    LIVE_MODEL,
    REALTIME_MODEL,
    chrome_har,
    gemini_live_entry,
    realtime_flow,
    write_flow_file,
)
from tests.secrets_corpus import BY_NAME, assert_no_secrets

PASTED = BY_NAME["openai-project"].value  # what the user pastes and the model echoes back
BEARER = BY_NAME["openai-svcacct"].value
GOOGLE_KEY = BY_NAME["google-api-key"].value


def run_import(path: Path, url: str, options: ImportOptions | None = None):
    store = open_store(url, create=True)
    try:
        return import_file(
            path, store=store, redactor=Redactor.from_data_dir(), options=options or ImportOptions()
        )
    finally:
        store.close()


def db_bytes(url: str) -> bytes:
    db = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def ids(row: dict) -> set[tuple[str, str, str]]:
    return {(i[0], i[1], i[3]) for i in row["ids"]}


def listed_models(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert cli(["models", "--db", url, "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["schema"].startswith("provenance.")
    return out


def test_realtime_flow_file_is_one_session_stored_as_live(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = realtime_flow(PASTED, BEARER)
    path = write_flow_file(tmp_path / "realtime.flows", [flow])
    summary = run_import(path, sqlite_url)
    assert (summary.read, summary.stored, dict(summary.skipped)) == (1, 1, {})
    [row] = exchanges(sqlite_url)
    assert (row["api"], row["host"], row["origin"], row["status"]) == (
        "openai.realtime",
        "api.openai.com",
        "flow",
        101,
    )
    assert row["streamed"] in (1, True) and row["parse_errors"] == []
    assert ids(row) == {
        (REALTIME_MODEL, "url_query", "request"),
        (REALTIME_MODEL, "websocket_message", "response"),
    }
    assert (row["input_tokens"], row["output_tokens"]) == (40, 20)
    # exactly what live capture stores for the same session (same tap, same redaction)
    live_tap = WebSocketTap(url=flow.request.url, max_log=ImportOptions().max_body)
    for message in flow.websocket.messages:
        live_tap.feed(message.content, message.from_client, message.is_text)
    raw = raw_exchange_from_flow(flow, origin=Origin.FLOW, streamed=True)
    redactor = Redactor.from_data_dir()
    live = extract_websocket(raw, live_tap.finish(), redactor=redactor)
    assert row["response_body"] == live.response_body
    assert row["request_headers"] == [list(h) for h in live.request_headers]
    assert row["secret_hashes"] == live.secret_hashes
    assert {redactor.digest(PASTED), redactor.digest(BEARER)} <= set(row["secret_hashes"])
    # the pasted key came back in 1-7 character deltas: not in the log, joined or not
    log = [json.loads(line) for line in row["response_body"].split("\n")]
    echoed = "".join(
        m["data"]["delta"] for m in log if m.get("data", {}).get("type") == "response.text.delta"
    )
    assert_no_secrets(echoed)
    assert echoed.startswith("You said [REDACTED:openai-project:")
    assert log[-1] == {"from": "client", "binary_bytes": 8}
    assert_no_secrets(db_bytes(sqlite_url))
    assert REALTIME_MODEL in listed_models(sqlite_url, capsys)


def test_gemini_live_har_entry_is_one_session(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    har = chrome_har()
    har["log"]["entries"] = [har["log"]["entries"][0], gemini_live_entry(GOOGLE_KEY)]
    path = tmp_path / "live.har"
    path.write_text(json.dumps(har))
    summary = run_import(path, sqlite_url)
    assert (summary.read, summary.stored, dict(summary.skipped)) == (2, 2, {})
    row = next(r for r in exchanges(sqlite_url) if r["api"] == "gemini.live")
    assert (row["host"], row["origin"], row["scheme"], row["status"]) == (
        "generativelanguage.googleapis.com",
        "har",
        "https",
        101,
    )
    assert (LIVE_MODEL, "websocket_message", "request") in ids(row)
    assert (row["input_tokens"], row["output_tokens"], row["total_tokens"]) == (9, 2, 11)
    assert "key=[REDACTED:" in row["path"] and row["latency_ms"] == 1500.0
    log = [json.loads(line) for line in row["response_body"].split("\n")]
    assert log[0] == {"from": "client", "data": {"setup": {"model": LIVE_MODEL}}}
    assert log[3]["data"]["serverContent"]["modelTurn"]["parts"][0]["text"] == "Hello"
    assert (row["request_size"], row["response_size"]) > (0, 0)
    assert_no_secrets(db_bytes(sqlite_url))
    assert LIVE_MODEL.removeprefix("models/") in listed_models(sqlite_url, capsys)


def test_sessions_without_bodies(tmp_path: Path, sqlite_url: str) -> None:
    path = write_flow_file(tmp_path / "r.flows", [realtime_flow(PASTED, BEARER)])
    run_import(path, sqlite_url, ImportOptions(keep_bodies=False))
    [row] = exchanges(sqlite_url)
    assert row["response_body"] is None and (
        REALTIME_MODEL,
        "websocket_message",
        "response",
    ) in ids(row)


def test_har_messages_skip_what_is_not_a_message() -> None:
    entry = {
        "_webSocketMessages": [
            {"type": "send", "opcode": 1, "data": '{"setup": {}}'},
            {"type": "receive", "opcode": 2, "data": "eyJhIjogMX0="},
            {"type": "receive", "opcode": 2, "data": "%%% not base64"},
            {"type": "receive", "opcode": 9, "data": ""},
            {"type": "other", "opcode": 1, "data": "x"},
            {"type": "send", "opcode": 1, "data": None},
            "junk",
        ]
    }
    assert is_websocket_entry(entry)
    assert list(har_messages(entry)) == [
        ('{"setup": {}}', True, True),
        (b'{"a": 1}', False, False),
    ]
    assert list(har_messages({"_webSocketMessages": "nope"})) == []
    assert not is_websocket_entry({"response": {"status": 200}})


def test_a_session_import_matches_extract_options(tmp_path: Path, sqlite_url: str) -> None:
    """The log cap is ``max_body``, as in live capture."""
    path = write_flow_file(tmp_path / "r.flows", [realtime_flow(PASTED, BEARER)])
    run_import(path, sqlite_url, ImportOptions(max_body=400))
    [row] = exchanges(sqlite_url)
    assert row["bodies_truncated"] in (1, True) and len(row["response_body"]) <= 400
