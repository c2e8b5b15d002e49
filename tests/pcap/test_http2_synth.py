"""HTTP/2 over a real TLS 1.3 session: concurrent streams, interleaved frames, HPACK state."""

from __future__ import annotations

import json
from pathlib import Path

import h2.config
import h2.connection
import h2.events

from provenance.pcap import read_capture
from tests.pcap.tlsfactory import (
    MODEL,
    SNI,
    Layout,
    TlsPair,
    client_context,
    make_certificate,
    server_context,
    write_capture,
)


def test_http2_concurrent_streams(tmp_path: Path) -> None:
    cert = make_certificate(tmp_path)
    keylog = tmp_path / "keys.log"
    pair = TlsPair(
        client_context(cert[0], keylog, alpn=("h2", "http/1.1")),
        server_context(*cert, alpn=("h2",)),
    )
    pair.handshake()
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    )
    client.initiate_connection()
    server.initiate_connection()
    pair.send(1, server.data_to_send())

    def to_server() -> list:
        pair.send(0, client.data_to_send())
        return server.receive_data(pair.recv(1))

    def to_client() -> list:
        pair.send(1, server.data_to_send())
        return client.receive_data(pair.recv(0))

    streams = [1, 3, 5, 7]
    for i, sid in enumerate(streams):  # four requests before any response
        body = json.dumps({"model": MODEL, "n": i}).encode()
        client.send_headers(
            sid,
            [
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", SNI),
                (":path", f"/inference/v1/chat/completions?i={i}"),
                ("content-type", "application/json"),
                ("x-request-tag", "same-value"),
            ],
        )
        client.send_data(sid, body[:10])
        client.send_data(sid, body[10:], end_stream=True)
    events = to_server()
    assert sum(isinstance(e, h2.events.StreamEnded) for e in events) == 4
    to_client()
    for sid in streams:  # response headers for all, then data interleaved backwards
        server.send_headers(sid, [(":status", "200"), ("content-type", "text/event-stream")])
    for part in range(2):
        for sid in reversed(streams):
            chunk = f'data: {{"model": "{MODEL}", "stream": {sid}, "part": {part}}}\n\n'.encode()
            server.send_data(sid, chunk, end_stream=part == 1)
    to_client()

    capture = write_capture(
        tmp_path / "h2.pcap", pair.wire, layout=Layout(mss=120, reorder=True, duplicate=True)
    )
    result = read_capture(capture, keylog)
    (conn,) = result.connections
    assert conn.alpn == "h2" and conn.alpn_offered == ("h2", "http/1.1")
    assert conn.decryption == "decrypted"
    assert len(result.exchanges) == 4
    by_path = {e.url: e for e in result.exchanges}
    for i, sid in enumerate(streams):
        exchange = by_path[f"https://{SNI}/inference/v1/chat/completions?i={i}"]
        assert exchange.http_version == "HTTP/2.0"
        assert exchange.method == "POST" and exchange.status == 200
        assert json.loads(exchange.request_body) == {"model": MODEL, "n": i}
        assert ("x-request-tag", "same-value") in exchange.request_headers  # HPACK-indexed
        frames = exchange.response_body.decode().strip().split("\n\n")
        assert [json.loads(f.removeprefix("data: "))["stream"] for f in frames] == [sid, sid]
        assert exchange.streamed
