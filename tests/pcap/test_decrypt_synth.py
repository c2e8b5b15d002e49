"""Decryption and HTTP reassembly on captures built from real in-process TLS sessions.

The TLS bytes are real (Python's ssl on both sides, client key log); only the TCP packaging is
synthesized, so records split across segments, reordered and duplicated segments, retransmits
and sequence-number wrap are exercised deterministically.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from provenance.pcap import read_capture
from provenance.tls import ja4_from_client_hello
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

REQUEST_SECRET = "sk-proj-T3stS3cretAbcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("cert"))


def _chat_request(path: str = "/inference/v1/chat/completions") -> bytes:
    body = json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "hello"}], "stream": False}
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {SNI}\r\nAuthorization: Bearer {REQUEST_SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _chat_response() -> bytes:
    body = json.dumps({"id": "cmpl-1", "model": MODEL, "choices": []}).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 20]), body[i : i + 20]) for i in range(0, len(body), 20)
    )
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )


def _h1_session(cert: tuple[Path, Path], keylog: Path, **client_kw: object) -> TlsPair:
    ciphers = client_kw.get("ciphers")
    pair = TlsPair(
        client_context(cert[0], keylog, **client_kw),  # type: ignore[arg-type]
        server_context(*cert, ciphers=ciphers),  # type: ignore[arg-type]
    )
    pair.handshake()
    for _ in range(2):  # two exchanges on one connection, request cut into many TLS records
        pair.send(0, _chat_request(), record_size=60)
        assert pair.recv(1).startswith(b"POST ")
        pair.send(1, _chat_response())
        assert pair.recv(0).startswith(b"HTTP/1.1 200")
    return pair


CASES = {
    "tls13-aes256gcm": {"version": ssl.TLSVersion.TLSv1_3},
    "tls12-aes128gcm": {
        "version": ssl.TLSVersion.TLSv1_2,
        "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256",
    },
    "tls12-aes256gcm": {
        "version": ssl.TLSVersion.TLSv1_2,
        "ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384",
    },
    "tls12-chacha20": {
        "version": ssl.TLSVersion.TLSv1_2,
        "ciphers": "ECDHE-ECDSA-CHACHA20-POLY1305",
    },
    "tls12-aes128cbc-sha": {"version": ssl.TLSVersion.TLSv1_2, "ciphers": "ECDHE-ECDSA-AES128-SHA"},
    "tls12-aes256cbc-sha384": {
        "version": ssl.TLSVersion.TLSv1_2,
        "ciphers": "ECDHE-ECDSA-AES256-SHA384",
    },
}
LAYOUTS = {
    "plain": Layout(),
    "split-reordered-doubled": Layout(mss=90, reorder=True, duplicate=True, retransmit=True),
}


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_http1_decrypted(cert, tmp_path: Path, case: str, layout: str) -> None:
    keylog = tmp_path / "keys.log"
    pair = _h1_session(cert, keylog, **CASES[case])
    capture = write_capture(tmp_path / "c.pcap", pair.wire, layout=LAYOUTS[layout])
    result = read_capture(capture, keylog)

    assert result.stats.tls_connections == 1
    (conn,) = result.connections
    assert conn.sni == SNI
    assert conn.decryption == "decrypted"
    assert conn.tls_version == ("TLS 1.3" if "tls13" in case else "TLS 1.2")
    first_client_bytes = b"".join(data for d, data in pair.wire[:1] if d == 0)
    assert conn.ja4 == ja4_from_client_hello(first_client_bytes)
    assert conn.ja4 is not None and conn.ja4.startswith(("t13d", "t12d"))
    assert len(result.exchanges) == 2
    for exchange in result.exchanges:
        assert exchange.method == "POST"
        assert exchange.url == f"https://{SNI}/inference/v1/chat/completions"
        assert exchange.status == 200
        assert exchange.http_version == "HTTP/1.1"
        assert json.loads(exchange.request_body)["model"] == MODEL
        assert json.loads(exchange.response_body)["model"] == MODEL  # de-chunked
        assert exchange.origin == "pcap"
        assert exchange.client_ja4 == conn.ja4
        assert exchange.error is None
    if layout != "plain":
        assert result.stats.duplicates > 0


def test_cbc_without_encrypt_then_mac(cert, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    client = client_context(
        cert[0], keylog, version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA256"
    )
    client.options |= 1 << 19  # SSL_OP_NO_ENCRYPT_THEN_MAC (OpenSSL 3)
    pair = TlsPair(client, server_context(*cert, ciphers="ECDHE-ECDSA-AES128-SHA256"))
    pair.handshake()
    pair.send(0, _chat_request())
    pair.recv(1)
    pair.send(1, _chat_response())
    result = read_capture(write_capture(tmp_path / "c.pcap", pair.wire), keylog)
    assert [json.loads(e.request_body)["model"] for e in result.exchanges] == [MODEL]


def test_without_key_log_metadata_only(cert, tmp_path: Path) -> None:
    pair = _h1_session(cert, tmp_path / "keys.log", version=ssl.TLSVersion.TLSv1_3)
    result = read_capture(write_capture(tmp_path / "c.pcap", pair.wire))
    (conn,) = result.connections
    assert conn.sni == SNI and conn.ja4 and conn.ja3
    assert conn.decryption == "no key log"
    assert result.exchanges == []


def test_key_log_matching_nothing_is_counted(cert, tmp_path: Path) -> None:
    pair = _h1_session(cert, tmp_path / "keys.log", version=ssl.TLSVersion.TLSv1_3)
    other = tmp_path / "other.log"
    _h1_session(cert, other, version=ssl.TLSVersion.TLSv1_3)  # a different session's keys
    result = read_capture(write_capture(tmp_path / "c.pcap", pair.wire), other)
    (conn,) = result.connections
    assert conn.decryption == "no key for this connection"
    assert result.stats.skipped["no key-log entry for connection"] == 1
    assert result.exchanges == []


def test_wrong_keys_fail_cleanly(cert, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    pair = _h1_session(cert, keylog, version=ssl.TLSVersion.TLSv1_3)
    lines = keylog.read_text().splitlines()
    garbled = [" ".join([*ln.split()[:2], "00" * (len(ln.split()[2]) // 2)]) for ln in lines]
    bad = tmp_path / "bad.log"
    bad.write_text("\n".join(garbled) + "\nnot a key line\n")
    result = read_capture(write_capture(tmp_path / "c.pcap", pair.wire), bad)
    assert result.connections[0].decryption == "decryption failed"
    assert result.stats.skipped["TLS decryption failed (key log does not match)"] >= 1
    assert result.exchanges == []


def test_pcapng_decryption_secrets_block(cert, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    pair = _h1_session(cert, keylog, version=ssl.TLSVersion.TLSv1_3)
    capture = write_capture(
        tmp_path / "c.pcapng", pair.wire, pcapng=True, keylog_text=keylog.read_text()
    )
    result = read_capture(capture)  # no key log file: the DSB inside the capture is enough
    assert result.connections[0].decryption == "decrypted"
    assert len(result.exchanges) == 2


def test_no_sni_named_by_dns(cert, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    client = client_context(cert[0], keylog, check_hostname=False)
    pair = TlsPair(client, server_context(*cert), sni=None)
    pair.handshake()
    capture = write_capture(tmp_path / "c.pcap", pair.wire, dns=(SNI, "10.0.0.1"))
    result = read_capture(capture, keylog)
    (conn,) = result.connections
    assert conn.sni is None
    assert conn.ja4 is not None and conn.ja4[3] == "i"
    assert conn.dns_name == SNI and conn.host == SNI
    assert result.stats.dns_answers == 1


def test_tls_on_any_port_and_http_on_443(cert, tmp_path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    keylog = tmp_path / "keys.log"
    pair = _h1_session(cert, keylog, version=ssl.TLSVersion.TLSv1_3)
    plain_http = [
        Ether()
        / IP(src="10.0.0.9", dst="10.0.0.1")
        / TCP(sport=52000, dport=443, flags="S", seq=10),
        Ether()
        / IP(src="10.0.0.9", dst="10.0.0.1")
        / TCP(sport=52000, dport=443, flags="PA", seq=11)
        / b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    capture = write_capture(
        tmp_path / "c.pcap", pair.wire, server=("10.0.0.1", 8443), extra_packets=plain_http
    )
    result = read_capture(capture, keylog)
    (conn,) = result.connections
    assert conn.server_port == 8443 and conn.decryption == "decrypted"
    assert result.stats.skipped["connection: not TLS (by content)"] == 1
