"""Bad captures and bad traffic: skipped and counted with a reason, never raised."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.errors import UsageError
from provenance.pcap import read_capture
from provenance.pcap.tcp import HalfStream
from tests.pcap.tlsfactory import (
    TlsPair,
    client_context,
    make_certificate,
    server_context,
    write_capture,
)


@pytest.fixture(scope="module")
def session_wire(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("bad")
    cert = make_certificate(d)
    pair = TlsPair(
        client_context(cert[0], d / "keys.log", version=ssl.TLSVersion.TLSv1_3),
        server_context(*cert),
    )
    pair.handshake()
    pair.send(0, b"GET /v1/models HTTP/1.1\r\nHost: api.fireworks.ai\r\n\r\n")
    pair.recv(1)
    pair.send(1, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    return pair.wire, d / "keys.log"


def test_truncated_capture(session_wire, tmp_path: Path) -> None:
    wire, keylog = session_wire
    full = write_capture(tmp_path / "full.pcap", wire)
    data = full.read_bytes()
    for cut in (len(data) // 3, len(data) // 2 + 7, len(data) - 5):
        part = tmp_path / f"cut{cut}.pcap"
        part.write_bytes(data[:cut])
        result = read_capture(part, keylog)  # must not raise
        assert result.stats.packets > 0
        assert len(result.connections) <= 1


def test_garbage_file_is_a_usage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all" * 10)
    with pytest.raises(UsageError, match="not a readable pcap"):
        read_capture(junk)
    with pytest.raises(UsageError, match="not found"):
        read_capture(tmp_path / "missing.pcap")


def test_malformed_client_hello_is_counted(tmp_path: Path) -> None:
    # A record that looks like a ClientHello but whose inner lengths are lies.
    body = b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\xff\xf0" + b"\x13\x01"
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    record = b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message
    result = read_capture(write_capture(tmp_path / "m.pcap", [(0, record), (1, b"\x15\x03\x03")]))
    assert result.stats.tls_connections == 1
    reasons = [r for r in result.stats.skipped if r.startswith("malformed ClientHello")]
    assert reasons, result.stats.skipped
    assert result.connections[0].ja4 is None


def test_garbage_after_tls_start(tmp_path: Path) -> None:
    record = b"\x16\x03\x01\x00\x10\x01" + b"\x00" * 15 + b"\xde\xad" * 100
    result = read_capture(write_capture(tmp_path / "g.pcap", [(0, record)]))
    assert result.stats.skipped["bad TLS record"] == 1


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=400),
    cuts=st.lists(st.integers(1, 60), min_size=1, max_size=30),
    order=st.randoms(use_true_random=False),
    dup=st.booleans(),
)
def test_reassembly_recovers_the_stream(data: bytes, cuts: list[int], order, dup: bool) -> None:
    isn = 2**32 - 50  # wraps
    segments = []
    pos = 0
    i = 0
    while pos < len(data):
        n = cuts[i % len(cuts)]
        segments.append(((isn + 1 + pos) % 2**32, data[pos : pos + n]))
        pos += n
        i += 1
    if dup:
        segments += segments[: len(segments) // 2]
    order.shuffle(segments)
    stream = HalfStream()
    stream.syn(isn)
    out = b"".join(stream.add(seq, chunk) for seq, chunk in segments)
    assert out == data
    assert not stream.gap and not stream.pending


def test_progress_reports_bytes(session_wire, tmp_path: Path) -> None:
    wire, keylog = session_wire
    capture = write_capture(tmp_path / "p.pcap", wire)
    calls: list[tuple[int, int]] = []
    read_capture(capture, keylog, progress=lambda done, total: calls.append((done, total)))
    size = capture.stat().st_size
    assert calls and calls[-1] == (size, size)
