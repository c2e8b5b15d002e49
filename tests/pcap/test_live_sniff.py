"""End to end on the real network stack: the OpenAI SDK over TLS to loopback servers, sniffed
on ``lo`` by scapy (every packet doubled), then read, decrypted and imported into a store.

Needs root for the packet socket; without it the test skips (fails under
``PROVENANCE_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import ssl
from pathlib import Path

import httpx
import pytest

from provenance.pcap import read_capture
from tests.conftest import service_missing
from tests.pcap.loopback import H1Server, H2Server, LoSniffer
from tests.pcap.tlsfactory import MODEL, SNI, client_context, make_certificate, server_context
from tests.secrets_corpus import PATTERN_SECRETS, assert_no_secrets, plant_text


def _can_sniff() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
        return True
    except (PermissionError, OSError, AttributeError):
        return False


class _Sni(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["sni_hostname"] = SNI
        return super().handle_request(request)


class _AsyncSni(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["sni_hostname"] = SNI
        return await super().handle_async_request(request)


API_KEY = next(s.value for s in PATTERN_SECRETS if s.name == "openai-project")
SECRET_TEXT = plant_text(PATTERN_SECRETS)


@pytest.fixture(scope="module")
def live_capture(tmp_path_factory: pytest.TempPathFactory):
    if not _can_sniff():
        service_missing("packet capture on lo needs root (AF_PACKET)")
    import openai

    d = tmp_path_factory.mktemp("live")
    cert, key = make_certificate(d)
    keylog = d / "keys.log"
    h1 = H1Server(server_context(cert, key, alpn=("http/1.1",)))
    h2s = H2Server(server_context(cert, key, alpn=("h2",)))
    sniffer = LoSniffer({h1.port, h2s.port})
    try:
        ctx12 = client_context(cert, keylog, version=ssl.TLSVersion.TLSv1_2)
        with httpx.Client(transport=_Sni(verify=ctx12)) as http:
            client = openai.OpenAI(
                api_key=API_KEY,
                base_url=f"https://localhost:{h1.port}/v1",
                http_client=http,
                default_headers={"Host": SNI},
                max_retries=0,
            )
            for _ in range(2):
                reply = client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": SECRET_TEXT}]
                )
                assert reply.model == MODEL

        async def concurrent() -> None:
            ctx13 = client_context(cert, keylog, version=ssl.TLSVersion.TLSv1_3)
            transport = _AsyncSni(verify=ctx13, http2=True)
            async with httpx.AsyncClient(transport=transport, http2=True) as http:
                client = openai.AsyncOpenAI(
                    api_key=API_KEY,
                    base_url=f"https://localhost:{h2s.port}/v1",
                    http_client=http,
                    default_headers={"Host": SNI},
                    max_retries=0,
                )
                replies = await asyncio.gather(
                    *(
                        client.chat.completions.create(
                            model=f"{MODEL}-{i}",
                            messages=[{"role": "user", "content": SECRET_TEXT}],
                        )
                        for i in range(4)
                    )
                )
                assert [r.model for r in replies] == [f"{MODEL}-{i}" for i in range(4)]

        asyncio.run(concurrent())
    finally:
        capture = sniffer.stop(d / "live.pcap")
        h1.close()
        h2s.close()
    return capture, keylog, h1.port, h2s.port


@pytest.mark.slow
def test_live_capture_decrypts_both_versions(live_capture) -> None:
    capture, keylog, h1_port, h2_port = live_capture
    result = read_capture(capture, keylog)
    assert result.stats.duplicates > 0  # loopback doubles were seen and dropped
    by_port = {c.server_port: c for c in result.connections}
    assert by_port[h1_port].tls_version == "TLS 1.2"
    assert by_port[h2_port].tls_version == "TLS 1.3"
    for conn in result.connections:
        assert conn.sni == SNI
        assert conn.decryption == "decrypted"
    assert by_port[h2_port].alpn == "h2"
    models = sorted(json.loads(e.request_body)["model"] for e in result.exchanges)
    assert models == sorted([MODEL, MODEL] + [f"{MODEL}-{i}" for i in range(4)])
    h2_exchanges = [e for e in result.exchanges if e.http_version == "HTTP/2.0"]
    assert len(h2_exchanges) == 4
    for exchange in result.exchanges:
        assert exchange.url.startswith(f"https://{SNI}")
        assert exchange.url.endswith("/v1/chat/completions")
        assert exchange.status == 200
        assert json.loads(exchange.response_body)["model"].startswith(MODEL)


@pytest.mark.slow
def test_import_stores_model_ids_and_no_secrets(live_capture, tmp_path: Path) -> None:
    pytest.importorskip("provenance.extract")
    from provenance.cli.main import main
    from provenance.pcap.importer import import_capture
    from provenance.redact import Redactor
    from provenance.store import open_store

    capture, keylog, _, _ = live_capture
    db = tmp_path / "p.sqlite"
    store = open_store(f"sqlite:///{db}", create=True)
    try:
        summary = import_capture(
            capture, keylog=keylog, store=store, redactor=Redactor.from_data_dir(), progress=False
        )
    finally:
        store.close()
    assert summary.exchanges == 6 and len(summary.exchange_ids) == 6
    assert summary.decrypted_connections == summary.tls_connections >= 2

    con = sqlite3.connect(db)
    dump = "\n".join(con.iterdump())
    ids = {row[0] for row in con.execute("select model_id from observations")}
    con.close()
    assert MODEL in ids
    assert_no_secrets(dump)
    assert API_KEY not in dump

    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["connections", "--db", f"sqlite:///{db}", "--json"]) == 0
    doc = json.loads(out.getvalue())
    assert doc["schema"] == "provenance.connections/1"
    assert {c["sni"] for c in doc["connections"]} == {SNI}
    assert sum(c["count"] for c in doc["connections"]) == summary.tls_connections
    assert all(c["ja4"] and c["tls_version"] for c in doc["connections"])
    assert {c["provider"] for c in doc["connections"]} == {"fireworks"}
