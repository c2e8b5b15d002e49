"""The same exchanges through every source give the same rows: live capture (in the proxy and
in the extraction process), a mitmproxy flow file, a HAR written by mitmproxy, and a decrypted
pcap of a real TLS session carrying the same HTTP/1.1 bytes.

Only what a source cannot know is left out of the comparison: the row id, ``origin``, the
timestamps and timings (each source has its own clock), the client's JA4 (only a pcap has the
ClientHello) and ``streamed`` (live capture tees an SSE body; a file holds it whole).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from mitmproxy import http
from mitmproxy.addons.savehar import SaveHar
from mitmproxy.test import taddons, tflow

from provenance.importers.run import ImportOptions, import_file
from provenance.redact import Redactor
from provenance.store import open_store
from tests.capture.dbrows import exchanges
from tests.capture.test_addon import load_addon_module, run_flow
from tests.importers.samples import write_flow_file
from tests.pcap.tlsfactory import SNI, TlsPair, client_context, make_certificate, server_context
from tests.pcap.tlsfactory import write_capture as write_pcap

pytestmark = pytest.mark.slow

KIMI = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"
BEARER = "sk-proj-T3stS3cretAbcdefghijklmnopqrstuvwxyz0123456789"
NOT_COMPARED = {"id", "origin", "started_at", "latency_ms", "ttfb_ms", "client_ja4", "streamed"}

SSE = b"".join(
    b"data: " + json.dumps(event).encode() + b"\n\n"
    for event in (
        {"id": "c1", "model": KIMI, "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"id": "c1", "model": KIMI, "choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {"id": "c1", "model": KIMI, "choices": [], "usage": {"prompt_tokens": 9,
                                                            "completion_tokens": 2}},
    )
) + b"data: [DONE]\n\n"  # fmt: skip


def exchanges_wire() -> list[tuple[bytes, bytes]]:
    """(request, response) as HTTP/1.1 bytes: a JSON chat, a gzip SSE stream, an error."""

    def request(body: dict[str, Any]) -> bytes:
        data = json.dumps(body).encode()
        head = (
            f"POST /inference/v1/chat/completions HTTP/1.1\r\nHost: {SNI}\r\n"
            f"Authorization: Bearer {BEARER}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        return head.encode() + data

    def response(status: str, ctype: str, body: bytes, *, gz: bool = False) -> bytes:
        data = gzip.compress(body, mtime=0) if gz else body
        head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
        if gz:
            head += "Content-Encoding: gzip\r\n"
        head += f"Content-Length: {len(data)}\r\n\r\n"
        return head.encode() + data

    return [
        (
            request({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            response(
                "200 OK",
                "application/json",
                json.dumps(
                    {
                        "id": "x",
                        "model": "gpt-4o-2024-08-06",
                        "choices": [],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
                    }
                ).encode(),
            ),
        ),
        (
            request({"model": KIMI, "stream": True, "messages": []}),
            response("200 OK", "text/event-stream", SSE, gz=True),
        ),
        (
            request({"model": "no-such-model", "messages": []}),
            response(
                "404 Not Found",
                "application/json",
                b'{"error": {"message": "model not found", "type": "invalid_request_error"}}',
            ),
        ),
    ]


def _split(message: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    head, _, body = message.partition(b"\r\n\r\n")
    first, *lines = head.decode().split("\r\n")
    return first, [tuple(line.split(": ", 1)) for line in lines], body  # type: ignore[misc]


def as_flow(request: bytes, response: bytes) -> http.HTTPFlow:
    """The same exchange as mitmproxy would hold it (headers and bodies byte for byte)."""
    first, req_headers, req_body = _split(request)
    method, path, _ = first.split(" ")
    status_line, resp_headers, resp_body = _split(response)
    flow = tflow.tflow(
        req=http.Request(
            SNI, 443, method.encode(), b"https", SNI.encode(), path.encode(), b"HTTP/1.1",
            http.Headers([(k.encode(), v.encode()) for k, v in req_headers]), req_body, None,
            1_700_000_000.0, 1_700_000_000.1,
        ),
        resp=http.Response(
            b"HTTP/1.1", int(status_line.split(" ")[1]), status_line.split(" ", 2)[2].encode(),
            http.Headers([(k.encode(), v.encode()) for k, v in resp_headers]), resp_body, None,
            1_700_000_000.2, 1_700_000_000.3,
        ),
    )  # fmt: skip
    return flow


def comparable(url: str) -> list[dict[str, Any]]:
    rows = exchanges(url)
    assert rows, url
    return [{k: v for k, v in row.items() if k not in NOT_COMPARED} for row in rows]


def live(url: str, flows: list[http.HTTPFlow], *, in_process: bool) -> None:
    addon = load_addon_module().Capture(print_summary=False)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=url, provenance_extract_process=not in_process)
        for flow in flows:
            streamed = flow.response.headers.get("content-type") == "text/event-stream"
            run_flow(addon, flow, [flow.response.raw_content] if streamed else None)
        addon.done()
    assert addon.summary.written == len(flows) and addon.summary.extract_failures == 0


def imported(url: str, path: Path, **options: Any) -> None:
    store = open_store(url, create=True)
    try:
        summary = import_file(
            path, store=store, redactor=Redactor.from_data_dir(), options=ImportOptions(**options)
        )
    finally:
        store.close()
    assert summary.error is None and summary.extract_failures == 0, summary


def test_every_source_stores_the_same_rows(tmp_path: Path) -> None:
    wire = exchanges_wire()
    urls = {
        name: f"sqlite:///{tmp_path / name}.sqlite"
        for name in ("live-loop", "live-worker", "flow", "har", "pcap")
    }
    live(urls["live-loop"], [as_flow(*pair) for pair in wire], in_process=True)
    live(urls["live-worker"], [as_flow(*pair) for pair in wire], in_process=False)
    flows = [as_flow(*pair) for pair in wire]
    imported(urls["flow"], write_flow_file(tmp_path / "c.flows", flows))
    har = tmp_path / "c.har"
    har.write_text(json.dumps(SaveHar().make_har([as_flow(*pair) for pair in wire])))
    imported(urls["har"], har)

    cert = make_certificate(tmp_path)
    keylog = tmp_path / "keys.log"
    pair = TlsPair(client_context(cert[0], keylog), server_context(*cert))
    pair.handshake()
    for request, response in wire:
        pair.send(0, request, record_size=300)
        assert pair.recv(1) == request
        pair.send(1, response)
        assert pair.recv(0) == response
    imported(urls["pcap"], write_pcap(tmp_path / "c.pcap", pair.wire), keylog=keylog)

    reference = comparable(urls["live-loop"])
    assert len(reference) == 3
    assert {i[0] for row in reference for i in row["ids"]} >= {KIMI, "gpt-4o-2024-08-06"}
    assert all(row["secret_hashes"] for row in reference)  # the bearer, hashed, in every row
    for name in ("live-worker", "flow", "har", "pcap"):
        rows = comparable(urls[name])
        for want, got in zip(reference, rows, strict=True):
            diff = {k: (want[k], got.get(k)) for k in want if want[k] != got.get(k)}
            assert not diff, f"{name} differs from live capture: {diff}"
