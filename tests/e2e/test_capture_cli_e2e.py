"""End to end through ``provenance capture`` and ``mitmdump -s``: secrets, shutdown, bad input.

- The secret corpus planted in headers, the URL, JSON, SSE and protobuf, and echoed back token by
  token (1-7 characters per frame) through the real OpenAI and Anthropic SDKs and a Connect
  stream: 0 found in the database file (+ WAL), the proxy's output and the CLI's ``--json``
  output, nor in the streamed text read back out of the stored frames.
- SIGINT/SIGTERM: every completed exchange is stored, a stream cut off by the shutdown too.
- A bad ``--db`` or a non-loopback listen address: one error line, exit 2, nothing listens.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from provenance.capture.session import SHUTDOWN_ERROR
from provenance.standins.processes import ProxyProcess, mitmdump, provenance_capture, run_cli
from provenance.standins.provider import CONNECT_PATH, StandInProvider, connect_chat_request
from tests.capture.dbrows import exchanges
from tests.e2e.conftest import ca_context, sdk_client
from tests.extract.streamshapes import read_anthropic, read_openai_chat
from tests.secrets_corpus import (
    PATTERN_SECRETS,
    assert_no_secrets,
    connect_frame,
    cursor_model_details,
    plant_headers,
    plant_json,
    plant_protobuf,
    plant_query,
    plant_sse,
    plant_text,
)

pytestmark = pytest.mark.e2e

KIMI = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"


def db_bytes(db: Path) -> bytes:
    """The raw bytes of the SQLite file and its WAL/SHM side files."""
    return b"".join(
        p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()
    )


def send_planted_traffic(proxy: ProxyProcess, upstream: StandInProvider, confdir: Path) -> int:
    """Every corpus secret in every place a request/response can carry it; returns #requests."""
    # a header value cannot carry a newline (the PEM sample): that one travels in the JSON body
    headers = [(k, v) for k, v in plant_headers() if k.lower() != "host" and "\n" not in v]
    upstream.replay["planted"] = plant_sse()
    sent = 0
    with httpx.Client(
        proxy=proxy.url, verify=ca_context(confdir), trust_env=False, timeout=60
    ) as client:
        url = f"{upstream.base_url}/v1/chat/completions?{plant_query()}"
        # JSON answer echoing the last user message whole.
        resp = client.post(url, json={**plant_json(), "stream": False}, headers=headers)
        assert resp.status_code == 200
        sent += 1
        sent += stream_echoes(client, proxy, confdir, upstream)
        resp = client.post(
            f"{upstream.base_url}/v1/chat/completions",
            json={"model": "gpt-4o", "stream": True},
            headers={"x-standin-replay": "planted"},
        )
        assert resp.status_code == 200 and b"[DONE]" in resp.content
        sent += 1
        proto_headers = {"content-type": "application/connect+proto"}
        resp = client.post(
            f"{upstream.base_url}{CONNECT_PATH}",
            content=connect_frame(plant_protobuf()),
            headers=proto_headers,
        )
        assert resp.status_code == 200
        sent += 1
        for sample in PATTERN_SECRETS:
            body = connect_frame(cursor_model_details(KIMI, sample.value))
            assert (
                client.post(
                    f"{upstream.base_url}{CONNECT_PATH}", content=body, headers=proto_headers
                ).status_code
                == 200
            )
            sent += 1
    return sent


TOKENS = {"x-standin-token-chars": "7"}  # the stand-in streams its echo 1-7 characters a time


def stream_echoes(
    client: httpx.Client, proxy: ProxyProcess, confdir: Path, upstream: StandInProvider
) -> int:
    """The whole corpus as free text, echoed back token by token: through the real OpenAI and
    Anthropic SDKs (SSE) and a Connect stream. Every secret reaches the client split over
    many frames, none whole in one. Returns the number of requests."""
    text = plant_text()
    oai = openai.OpenAI(
        base_url=f"{upstream.base_url}/v1",
        api_key="sk-test-e2e",
        http_client=sdk_client(openai, proxy, confdir),
        default_headers=TOKENS,
    )
    stream = oai.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": text}], stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces) == f"Stand-in reply: {text}" and max(map(len, pieces)) <= 7
    ant = anthropic.Anthropic(
        base_url=upstream.base_url,
        api_key="sk-ant-e2e",
        http_client=sdk_client(anthropic, proxy, confdir),
        default_headers=TOKENS,
    )
    with ant.messages.stream(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": text}]
    ) as answer:
        assert answer.get_final_text() == f"Stand-in reply: {text}"
    resp = client.post(
        f"{upstream.base_url}{CONNECT_PATH}",
        content=connect_chat_request(KIMI, text),
        headers={"content-type": "application/connect+proto", **TOKENS},
    )
    assert resp.status_code == 200 and len(resp.content) > len(text) * 5 // 7  # many frames
    return 3


def read_connect_text(stored: str) -> str:
    """The text of a stored ``StreamUnifiedChatResponseWithTools`` stream: each frame's
    projection line carries its piece at ``stream_unified_chat_response(2).text(1)``."""
    docs = [json.loads(line) for line in stored.split("\n") if line.startswith("{")]
    parts = [d.get("2") for d in docs]
    return "".join(p["1"] for p in parts if isinstance(p, dict) and isinstance(p.get("1"), str))


def streamed_texts(rows: list[dict]) -> dict[str, str]:
    """The echoed text read back out of each stored token-by-token stream, per API."""
    out: dict[str, str] = {}
    for row in rows:
        if not any(k.lower() == "x-standin-token-chars" for k, _ in row["request_headers"]):
            continue
        body = row["response_body"] or ""
        if row["path"].endswith("/chat/completions"):
            out["openai"] = read_openai_chat(body)
        elif row["path"].endswith("/messages"):
            out["anthropic"] = read_anthropic(body)
        elif row["path"] == CONNECT_PATH:
            out["connect"] = read_connect_text(body)
    return out


@pytest.mark.parametrize("launcher", ["provenance-capture", "mitmdump"])
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_secret_corpus_never_reaches_store_logs_or_json(
    tmp_path: Path,
    confdir: Path,
    standin: StandInProvider,
    standin_tls: StandInProvider,
    launcher: str,
    tls: bool,
) -> None:
    db = tmp_path / "secrets.sqlite"
    url = f"sqlite:///{db}"
    start = provenance_capture if launcher == "provenance-capture" else mitmdump
    proxy = start(url, confdir)
    proxy.wait_listening()
    try:
        sent = send_planted_traffic(proxy, standin_tls if tls else standin, confdir)
    finally:
        code = proxy.stop(signal.SIGTERM)
    assert code == 0, proxy.output[-2000:]
    rows = exchanges(url)
    assert len(rows) == sent  # the check below is not vacuous: everything was stored
    assert any(r["secret_hashes"] for r in rows)
    assert any((KIMI, "protobuf_field", "1.5.1", "request") in r["ids"] for r in rows)
    echoes = streamed_texts(rows)
    assert sorted(echoes) == ["anthropic", "connect", "openai"]
    for api, echoed in echoes.items():  # the fragments, joined again, hold tokens, no secret
        try:
            assert_no_secrets(echoed)
        except AssertionError as exc:
            raise AssertionError(f"{api} stream: {exc}") from None
        tokens = echoed.count("[REDACTED:")
        assert echoed.startswith("Stand-in reply: log: ") and tokens >= 40, f"{api}: {tokens}"
    models = run_cli("models", "--db", url, "--json")
    listing = run_cli("exchanges", "list", "--db", url, "--json")
    assert models.returncode == 0, models.stderr
    assert KIMI in models.stdout
    for name, blob in [
        ("database", db_bytes(db)),
        ("proxy output", proxy.output),
        ("models --json", models.stdout + models.stderr),
        ("exchanges --json", listing.stdout + listing.stderr),
    ]:
        try:
            assert_no_secrets(blob)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_shutdown_flushes_every_exchange(
    tmp_path: Path, confdir: Path, standin: StandInProvider, sig: signal.Signals
) -> None:
    url = f"sqlite:///{tmp_path / 'flush.sqlite'}"
    proxy = provenance_capture(url, confdir)
    proxy.wait_listening()
    n = 25
    with (
        StandInProvider(pause=60.0) as paused,
        httpx.Client(proxy=proxy.url, trust_env=False) as client,
    ):
        for i in range(n):
            resp = client.post(
                f"{standin.base_url}/v1/chat/completions",
                json={"model": "gpt-4o", "messages": [], "n": i},
            )
            assert resp.status_code == 200
        outcome: dict[str, object] = {}

        def in_flight() -> None:
            try:
                with client.stream(
                    "POST",
                    f"{paused.base_url}/v1/chat/completions",
                    json={"model": "gpt-4o-mini", "stream": True},
                    headers={"x-standin-pause": "1"},
                ) as resp:
                    for _ in resp.iter_raw():
                        pass
            except httpx.HTTPError as exc:
                outcome["error"] = type(exc).__name__

        thread = threading.Thread(target=in_flight, daemon=True)
        thread.start()
        assert paused.first_sent.wait(60)
        code = proxy.stop(sig)
        paused.release.set()
        thread.join(60)
    assert code == 0, proxy.output[-2000:]
    rows = exchanges(url)
    assert len(rows) == n + 1
    cut = [r for r in rows if r["error"]]
    assert [r["error"] for r in cut] == [SHUTDOWN_ERROR]
    assert ("gpt-4o-mini", "request_field", "$.model", "request") in cut[0]["ids"]
    assert f"provenance: {n + 1} exchange(s) stored in" in proxy.output
    assert "1 cut off at shutdown" in proxy.output


def one_error_line(stderr: str, fragment: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], stderr


@pytest.mark.parametrize(
    ("db", "fragment"),
    [
        ("nosuch://host/db", "unsupported database URL scheme"),
        ("sqlite:///{tmp}/a-file/x.sqlite", "cannot create database file"),
    ],
)
def test_bad_db_exits_2_before_listening(tmp_path: Path, db: str, fragment: str) -> None:
    (tmp_path / "a-file").write_text("a file, not a directory")
    result = run_cli("capture", "--listen-port", "0", "--db", db.format(tmp=tmp_path))
    assert result.returncode == 2
    one_error_line(result.stderr, fragment)
    assert "listening" not in result.stdout + result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_non_loopback_listen_is_refused(tmp_path: Path, host: str) -> None:
    result = run_cli(
        "capture",
        "--listen-host",
        host,
        "--listen-port",
        "0",
        "--db",
        f"sqlite:///{tmp_path / 'x.sqlite'}",
    )
    assert result.returncode == 2
    one_error_line(result.stderr, "pass --allow-remote")
    assert not (tmp_path / "x.sqlite").exists()  # refused before the store was even opened


def test_mitmdump_with_a_bad_db_exits_at_startup(tmp_path: Path, confdir: Path) -> None:
    """mitmproxy logs a script's configure error and exits during startup (its errorcheck)."""
    proxy = mitmdump("nosuch://host/db", confdir)
    code = proxy.proc.wait(120)
    proxy.stop()
    assert code != 0
    assert "provenance: unsupported database URL scheme 'nosuch'" in proxy.output
    assert "Error logged during startup, exiting" in proxy.output
