"""``provenance import``: mitmproxy flow files and HAR through the one extraction path."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy.addons.savehar import SaveHar

from provenance.cli.main import main as cli
from provenance.importers.detect import FileKind, kind_of
from provenance.importers.har import SkipEntry, is_websocket_entry, raw_exchange_from_har_entry
from provenance.importers.run import ImportOptions, import_file
from provenance.redact import Redactor
from provenance.store import open_store
from tests.capture.dbrows import exchanges
from tests.importers.samples import KIMI, chrome_har, sample_flows, write_flow_file
from tests.secrets_corpus import assert_no_secrets, plant_headers

SECRET_HEADERS = [(k, v) for k, v in plant_headers() if k.lower() != "host" and "\n" not in v]


def ids(rows: list[dict]) -> set[tuple[str, str]]:
    return {(i[0], i[1]) for r in rows for i in r["ids"]}


def run_import(path: Path, url: str) -> object:
    store = open_store(url, create=True)
    try:
        return import_file(
            path, store=store, redactor=Redactor.from_data_dir(), options=ImportOptions()
        )
    finally:
        store.close()


def test_flow_file(tmp_path: Path, sqlite_url: str) -> None:
    path = write_flow_file(tmp_path / "capture.flows", sample_flows())
    summary = run_import(path, sqlite_url)
    assert (summary.kind, summary.read, summary.stored) == ("flow", 6, 4)
    assert dict(summary.skipped) == {"CONNECT tunnel": 1, "tcp flow (not HTTP)": 1}
    rows = exchanges(sqlite_url)
    assert {r["origin"] for r in rows} == {"flow"}
    assert ids(rows) >= {
        ("gpt-4o", "request_field"),
        ("gpt-4o-2024-08-06", "response_field"),
        (KIMI, "request_field"),
        (KIMI, "sse_frame"),
    }
    sse = next(r for r in rows if r["streamed"] in (1, True))
    assert sse["output_tokens"] == 1 and sse["parse_errors"] == []  # gzip decoded
    assert [r["error"] for r in rows if r["error"]] == ["error"]
    ws = next(r for r in rows if r["path"] == "/ws")  # tflow.twebsocketflow(): one session
    assert ws["status"] == 101 and ws["streamed"] in (1, True)
    assert (ws["request_size"], ws["response_size"]) == (22, 7)  # bytes each side sent
    assert json.loads(ws["response_body"].split("\n")[1]) == {
        "from": "client",
        "text": "hello text",
    }


@pytest.mark.parametrize("wrap", ["plain", "gzip", "zlib"])
def test_browser_har(tmp_path: Path, sqlite_url: str, wrap: str) -> None:
    data = json.dumps(chrome_har()).encode()
    data = {"plain": data, "gzip": gzip.compress(data), "zlib": zlib.compress(data)}[wrap]
    path = tmp_path / "session.har"
    path.write_bytes(data)
    summary = run_import(path, sqlite_url)
    assert (summary.kind, summary.read, summary.stored) == ("har", 5, 4)
    assert dict(summary.skipped) == {"not an HTTP(S) URL": 1}
    rows = exchanges(sqlite_url)
    assert ids(rows) >= {
        ("moonshotai/kimi-k2:free", "request_field"),
        (KIMI, "sse_frame"),
        ("gemini-2.5-pro", "url_path"),
        ("gemini-2.5-pro-06-05", "response_field"),
        ("gpt-5", "request_field"),
    }
    first = rows[0]
    assert first["ttfb_ms"] == 640.0 and first["latency_ms"] == 812.5
    assert first["parse_errors"] == []  # the stale content-encoding: br header was dropped
    assert not any(k.startswith(":") for k, _ in first["request_headers"])
    assert [r["error"] for r in rows if r["error"]] == ["no response in the HAR (net::ERR_FAILED)"]


def test_har_written_by_mitmproxy(tmp_path: Path, sqlite_url: str) -> None:
    flows = [f for f in sample_flows() if getattr(f, "type", "") == "http"][:2]
    path = tmp_path / "mitm.har"
    path.write_text(json.dumps(SaveHar().make_har(flows)))
    summary = run_import(path, sqlite_url)
    assert summary.stored == 2 and summary.error is None
    assert (KIMI, "sse_frame") in ids(exchanges(sqlite_url))


def test_truncated_har_keeps_what_was_read(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.dumps(chrome_har()).encode()
    cut = data.index(b"generativelanguage") + 200  # inside the third entry
    path = tmp_path / "cut.har"
    path.write_bytes(data[:cut])
    code = cli(["import", str(path), "--db", sqlite_url])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "malformed HAR: the file ends inside" in err
    assert "the 1 exchange(s) read before it were stored" in err
    assert len(exchanges(sqlite_url)) == 1


def test_unknown_and_missing_files_exit_2_storing_nothing(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.har"
    good.write_text(json.dumps(chrome_har()))
    junk = tmp_path / "notes.har"
    junk.write_text("hello, not traffic")
    assert cli(["import", str(good), str(tmp_path / "nope.har"), "--db", sqlite_url]) == 2
    assert "nope.har: no such file" in capsys.readouterr().err
    assert cli(["import", str(junk), "--db", sqlite_url]) == 2
    assert "not a HAR, mitmproxy flow or pcap file" in capsys.readouterr().err
    assert cli(["import", str(good), "--db", "nosuch://db"]) == 2
    assert "unsupported database URL scheme" in capsys.readouterr().err


def test_json_summary_and_secrets(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flows_path = write_flow_file(tmp_path / "a.flows", sample_flows(SECRET_HEADERS))
    har_path = tmp_path / "b.har"
    har_path.write_text(json.dumps(chrome_har(SECRET_HEADERS)))
    assert cli(["import", str(flows_path), str(har_path), "--db", sqlite_url, "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["schema"] == "provenance.import/1"
    assert (doc["read"], doc["stored"], doc["skipped"], doc["ok"]) == (11, 8, 3, True)
    assert [f["kind"] for f in doc["files"]] == ["flow", "har"]
    assert_no_secrets(out)
    db = Path(sqlite_url.removeprefix("sqlite:///"))
    assert_no_secrets(b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*")))
    assert any(r["secret_hashes"] for r in exchanges(sqlite_url))


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xd4\xc3\xb2\xa1\x02\x00", FileKind.PCAP),
        (b"\x0a\x0d\x0d\x0a", FileKind.PCAP),
        (b'\xef\xbb\xbf  {"log"', FileKind.HAR),
        (b"1234:5:", FileKind.FLOW),
        (b"GET / HTTP/1.1", None),
        (b"", None),
    ],
)
def test_kind_by_content(head: bytes, kind: FileKind | None) -> None:
    assert kind_of(head) == kind


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5),
    max_leaves=20,
)
har_like = st.fixed_dictionaries(
    {},
    optional={
        "request": st.fixed_dictionaries(
            {"url": st.sampled_from(["https://api.openai.com/v1/chat/completions", "ftp://x", ""])},
            optional={
                "method": json_values,
                "headers": json_values,
                "postData": json_values,
                "httpVersion": json_values,
            },
        )
        | json_values,
        "response": json_values,
        "startedDateTime": st.text(max_size=30) | json_values,
        "time": json_values,
        "timings": json_values,
        "_resourceType": st.sampled_from(["websocket", "fetch"]),
    },
)


@settings(max_examples=150, deadline=None)
@given(har_like | json_values)
def test_any_har_entry_converts_or_is_skipped(entry: object) -> None:
    try:
        raw = raw_exchange_from_har_entry(entry)
    except SkipEntry as skip:
        assert str(skip)
    else:
        assert raw.url.startswith("https://") and raw.origin == "har"
        if is_websocket_entry(entry):  # a session: its handshake, no bodies
            assert raw.streamed and raw.request_body is None and raw.response_body is None
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in raw.request_headers)


def _entry(started: object, model: str) -> dict:
    body = json.dumps({"model": model, "messages": []})
    return {
        "startedDateTime": started,
        "time": 5,
        "request": {
            "method": "POST",
            "url": "https://api.openai.com/v1/chat/completions",
            "headers": [{"name": "content-type", "value": "application/json"}],
            "postData": {"mimeType": "application/json", "text": body},
        },
        "response": {"status": 200, "headers": [], "content": {"mimeType": "text/plain"}},
    }


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        # an unreadable date between two readable ones takes the one before it
        (["2026-01-05T10:00:00Z", "yesterday", "2026-01-05T11:00:00Z"], [10, 10, 11]),
        # leading unreadable dates take the first readable one; a missing field counts too
        ([None, "bad", "2026-01-05T09:00:00Z", "2026-01-05T12:00:00Z"], [9, 9, 9, 12]),
    ],
)
def test_unreadable_har_dates_keep_the_files_order_and_are_marked(
    tmp_path: Path, sqlite_url: str, dates: list, expected: list[int]
) -> None:
    entries = [_entry(d, f"gpt-4o-{i}") for i, d in enumerate(dates)]
    path = tmp_path / "dates.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    run_import(path, sqlite_url)
    rows = exchanges(sqlite_url)
    assert [sorted(i[0] for i in r["ids"]) for r in rows] == [
        [f"gpt-4o-{i}"] for i in range(len(dates))
    ]  # stored in the file's order
    hours = [int(str(r["started_at"])[11:13]) for r in rows]
    assert hours == expected
    for r, d in zip(rows, dates, strict=True):
        errors = r["parse_errors"]
        errors = json.loads(errors) if isinstance(errors, str) else errors
        marked = any("no readable startedDateTime" in e for e in errors)
        assert marked == (not (isinstance(d, str) and d.startswith("2026")))


def test_a_har_without_any_readable_date_is_dated_1970_not_today(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "undated.har"
    entries = [_entry("never", "gpt-4o-a"), _entry(None, "gpt-4o-b")]
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    run_import(path, sqlite_url)
    assert [str(r["started_at"])[:4] for r in exchanges(sqlite_url)] == ["1970", "1970"]
