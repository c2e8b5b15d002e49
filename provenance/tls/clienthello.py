"""Parse a TLS ClientHello from raw bytes into the fields fingerprints are built from.

Pure functions over bytes, no scapy: the pcap reader, the live addon (mitmproxy's
``client_hello.raw_bytes()``) and the tests all come through :func:`parse_client_hello`.
Anything malformed raises :class:`MalformedHello` (a ``ValueError``) with a short reason; callers
that must never raise catch it and count the reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

EXT_SERVER_NAME = 0x0000
EXT_SUPPORTED_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B

HANDSHAKE_CLIENT_HELLO = 1
CONTENT_HANDSHAKE = 0x16


class MalformedHello(ValueError):
    """The bytes are not a well-formed ClientHello; the message is a short reason."""


def is_grease(value: int) -> bool:
    """True for the RFC 8701 GREASE values (0x0a0a, 0x1a1a, ... 0xfafa)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclass(frozen=True, slots=True)
class ClientHello:
    """The parts of a ClientHello that JA3/JA4 and connection records use, in wire order.

    Lists keep GREASE values exactly as sent; the fingerprint functions drop them.
    ``alpn`` is the offered protocol list, ``sni`` the first host_name (None if no SNI extension
    or an empty one), ``has_sni`` whether the extension was present at all.
    """

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    extensions: tuple[int, ...]
    sni: str | None = None
    has_sni: bool = False
    alpn: tuple[str, ...] = ()
    alpn_raw: tuple[bytes, ...] = ()
    supported_groups: tuple[int, ...] = ()
    ec_point_formats: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] = ()
    supported_versions: tuple[int, ...] = ()
    extension_data: dict[int, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def max_version(self) -> int:
        """The highest non-GREASE supported_versions entry, else the legacy version."""
        versions = [v for v in self.supported_versions if not is_grease(v)]
        return max(versions) if versions else self.legacy_version


class _Cursor:
    """Bounds-checked big-endian reads over a bytes object."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise MalformedHello(f"truncated {what}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack("!H", self.take(2, what))[0]

    def u24(self, what: str) -> int:
        return int.from_bytes(self.take(3, what), "big")

    def vector(self, len_bytes: int, what: str) -> bytes:
        n = int.from_bytes(self.take(len_bytes, f"{what} length"), "big")
        return self.take(n, what)


def _u16_list(data: bytes, what: str) -> tuple[int, ...]:
    if len(data) % 2:
        raise MalformedHello(f"odd-length {what}")
    return tuple(struct.unpack(f"!{len(data) // 2}H", data))


def client_hello_body(data: bytes) -> bytes:
    """Strip the record layer and/or handshake header, returning the ClientHello body.

    Accepts one or more TLS handshake records (``16 03 ..``), a handshake message (``01`` +
    3-byte length), or the bare body (starting with the legacy version ``03 ..``).
    """
    if not data:
        raise MalformedHello("empty ClientHello")
    if data[0] == CONTENT_HANDSHAKE:
        payload = bytearray()
        cur = _Cursor(data)
        while cur.remaining() >= 5:
            ctype = cur.u8("record type")
            cur.take(2, "record version")
            fragment = cur.vector(2, "record")
            if ctype != CONTENT_HANDSHAKE:
                break
            payload += fragment
        data = bytes(payload)
        if not data:
            raise MalformedHello("no handshake payload")
    if data[0] == HANDSHAKE_CLIENT_HELLO:
        cur = _Cursor(data, 1)
        length = cur.u24("handshake length")
        return cur.take(length, "ClientHello body")
    if data[0] == 0x03 or data[0] == 0xFE:
        return data
    raise MalformedHello(f"not a ClientHello (first byte 0x{data[0]:02x})")


def parse_client_hello(data: bytes) -> ClientHello:
    """Parse a ClientHello (record(s), handshake message or bare body; see
    :func:`client_hello_body`). Raises :class:`MalformedHello` with a reason."""
    body = client_hello_body(data)
    cur = _Cursor(body)
    legacy_version = cur.u16("version")
    random = cur.take(32, "random")
    session_id = cur.vector(1, "session id")
    ciphers = _u16_list(cur.vector(2, "cipher suites"), "cipher suites")
    cur.vector(1, "compression methods")
    fields: dict[str, object] = {}
    ext_types: list[int] = []
    ext_data: dict[int, bytes] = {}
    if cur.remaining() >= 2:
        ext_block = _Cursor(cur.vector(2, "extensions"))
        while ext_block.remaining():
            etype = ext_block.u16("extension type")
            edata = ext_block.vector(2, f"extension 0x{etype:04x}")
            ext_types.append(etype)
            ext_data.setdefault(etype, edata)
            _parse_extension(etype, edata, fields)
    elif cur.remaining():
        raise MalformedHello("trailing byte after compression methods")
    return ClientHello(
        legacy_version=legacy_version,
        random=random,
        session_id=session_id,
        cipher_suites=ciphers,
        extensions=tuple(ext_types),
        extension_data=ext_data,
        **fields,  # type: ignore[arg-type]
    )


def _parse_extension(etype: int, data: bytes, out: dict[str, object]) -> None:
    """Decode the few extensions fingerprints need into ``out`` (first occurrence wins)."""
    try:
        if etype == EXT_SERVER_NAME and "has_sni" not in out:
            out["has_sni"] = True
            out["sni"] = _parse_sni(data)
        elif etype == EXT_ALPN and "alpn" not in out:
            raw = _parse_alpn(data)
            out["alpn_raw"] = raw
            out["alpn"] = tuple(p.decode("ascii", "replace") for p in raw)
        elif etype == EXT_SUPPORTED_GROUPS and "supported_groups" not in out:
            out["supported_groups"] = _u16_list(_Cursor(data).vector(2, "groups"), "groups")
        elif etype == EXT_EC_POINT_FORMATS and "ec_point_formats" not in out:
            out["ec_point_formats"] = tuple(_Cursor(data).vector(1, "point formats"))
        elif etype == EXT_SIGNATURE_ALGORITHMS and "signature_algorithms" not in out:
            out["signature_algorithms"] = _u16_list(
                _Cursor(data).vector(2, "signature algorithms"), "signature algorithms"
            )
        elif etype == EXT_SUPPORTED_VERSIONS and "supported_versions" not in out:
            out["supported_versions"] = _u16_list(
                _Cursor(data).vector(1, "supported versions"), "supported versions"
            )
    except MalformedHello:
        # A garbled extension body does not void the rest of the hello: the fingerprint only
        # needs the extension type, which we already have.
        if etype == EXT_SERVER_NAME:
            out.setdefault("has_sni", True)


def _parse_sni(data: bytes) -> str | None:
    cur = _Cursor(_Cursor(data).vector(2, "server name list"))
    while cur.remaining():
        name_type = cur.u8("server name type")
        name = cur.vector(2, "server name")
        if name_type == 0 and name:
            return name.decode("ascii", "replace").rstrip(".").lower()
    return None


def _parse_alpn(data: bytes) -> tuple[bytes, ...]:
    cur = _Cursor(_Cursor(data).vector(2, "ALPN list"))
    protocols = []
    while cur.remaining():
        protocols.append(cur.vector(1, "ALPN protocol"))
    return tuple(protocols)
