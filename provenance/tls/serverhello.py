"""Parse the ServerHello (and TLS 1.3 EncryptedExtensions) fields a passive reader needs."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from provenance.tls.clienthello import MalformedHello

# RFC 8446 §4.1.3: a HelloRetryRequest is a ServerHello with this random.
HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
EXT_ENCRYPT_THEN_MAC = 0x0016

VERSION_NAMES = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}


@dataclass(frozen=True, slots=True)
class ServerHello:
    """``version`` is the negotiated one (supported_versions wins over the legacy field)."""

    version: int
    random: bytes
    cipher_suite: int
    alpn: str | None
    encrypt_then_mac: bool
    hello_retry: bool


def _extensions(data: bytes, pos: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    if pos + 2 > len(data):
        return out
    end = pos + 2 + struct.unpack_from("!H", data, pos)[0]
    if end > len(data):
        raise MalformedHello("truncated extensions")
    pos += 2
    while pos + 4 <= end:
        etype, elen = struct.unpack_from("!HH", data, pos)
        pos += 4
        if pos + elen > end:
            raise MalformedHello("truncated extension")
        out.setdefault(etype, data[pos : pos + elen])
        pos += elen
    return out


def _alpn(ext: bytes | None) -> str | None:
    if not ext or len(ext) < 3:
        return None
    return ext[3 : 3 + ext[2]].decode("ascii", "replace")


def parse_server_hello(body: bytes) -> ServerHello:
    """Parse a ServerHello handshake body (without the 4-byte handshake header)."""
    if len(body) < 38:
        raise MalformedHello("truncated ServerHello")
    legacy = struct.unpack_from("!H", body, 0)[0]
    random = body[2:34]
    sid_len = body[34]
    pos = 35 + sid_len
    if pos + 3 > len(body):
        raise MalformedHello("truncated ServerHello")
    suite = struct.unpack_from("!H", body, pos)[0]
    exts = _extensions(body, pos + 3)
    version = legacy
    sv = exts.get(0x002B)
    if sv is not None and len(sv) == 2:
        version = struct.unpack("!H", sv)[0]
    return ServerHello(
        version=version,
        random=random,
        cipher_suite=suite,
        alpn=_alpn(exts.get(0x0010)),
        encrypt_then_mac=EXT_ENCRYPT_THEN_MAC in exts,
        hello_retry=random == HRR_RANDOM,
    )


def alpn_from_encrypted_extensions(body: bytes) -> str | None:
    """The ALPN protocol from a TLS 1.3 EncryptedExtensions body, if any."""
    try:
        return _alpn(_extensions(body, 0).get(0x0010))
    except MalformedHello:
        return None
