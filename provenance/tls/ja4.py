"""JA4 (TLS client) fingerprints: ``JA4``, ``JA4_r``, ``JA4_o``, ``JA4_ro``.

Implemented from FoxIO's public description of JA4 for TLS clients (BSD-3-Clause); only the
client fingerprint, none of the other JA4+ methods.
Example: ``t13d1516h2_8daaf6152771_e5627efa2ab1``.

- part a: transport (``t`` TCP, ``q`` QUIC, ``d`` DTLS), version (highest non-GREASE
  supported_versions, else the hello's version), ``d``/``i`` for SNI present/absent, two-digit
  cipher and extension counts (GREASE excluded), first+last character of the first ALPN value;
- part b: SHA-256 (first 12 hex) of the cipher list, sorted;
- part c: SHA-256 (first 12 hex) of the extension list sorted without SNI and ALPN, then ``_``
  and the signature algorithms in wire order.

The ``_o`` variants keep the wire order (and keep SNI and ALPN in the extension list); the
``_r`` variants print the lists instead of hashing them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from provenance.tls.clienthello import (
    EXT_ALPN,
    EXT_SERVER_NAME,
    ClientHello,
    is_grease,
    parse_client_hello,
)

_VERSIONS = {
    0x0304: "13",
    0x0303: "12",
    0x0302: "11",
    0x0301: "10",
    0x0300: "s3",
    0x0002: "s2",
    0xFEFF: "d1",
    0xFEFD: "d2",
    0xFEFC: "d3",
}
_EMPTY_HASH = "000000000000"


@dataclass(frozen=True, slots=True)
class JA4:
    """All four JA4 variants of one ClientHello."""

    ja4: str
    ja4_r: str
    ja4_o: str
    ja4_ro: str


def _hex4(values: Iterable[int]) -> list[str]:
    return [f"{v:04x}" for v in values]


def _hash12(text: str) -> str:
    if not text:
        return _EMPTY_HASH
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


def _alpn_chars(first: bytes | None) -> str:
    if not first:
        return "00"
    head, tail = chr(first[0]), chr(first[-1])
    if head.isascii() and head.isalnum() and tail.isascii() and tail.isalnum():
        return head + tail
    hexed = first.hex()
    return hexed[0] + hexed[-1]


def ja4_variants(
    cipher_suites: Sequence[int],
    extensions: Sequence[int],
    *,
    alpn: Sequence[bytes | str] = (),
    has_sni: bool,
    version: int,
    supported_versions: Sequence[int] = (),
    signature_algorithms: Sequence[int] = (),
    transport: str = "t",
) -> JA4:
    """Compute the four JA4 strings from ClientHello fields (GREASE values are dropped here).

    ``version`` is the ClientHello's legacy version; ``supported_versions`` the list of that
    extension (it wins when present); ``alpn`` the offered protocols in wire order.
    """
    ciphers = [c for c in cipher_suites if not is_grease(c)]
    exts = [e for e in extensions if not is_grease(e)]
    sigs = [s for s in signature_algorithms if not is_grease(s)]
    versions = [v for v in supported_versions if not is_grease(v)]
    best = max(versions) if versions else version
    first_alpn = alpn[0] if alpn else None
    if isinstance(first_alpn, str):
        first_alpn = first_alpn.encode("utf-8", "replace")
    part_a = (
        f"{transport}{_VERSIONS.get(best, '00')}{'d' if has_sni else 'i'}"
        f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{_alpn_chars(first_alpn)}"
    )
    sig_text = ",".join(_hex4(sigs))

    def build(cipher_list: list[str], ext_list: list[str]) -> tuple[str, str]:
        cipher_text = ",".join(cipher_list)
        ext_text = ",".join(ext_list)
        tail = f"{ext_text}_{sig_text}" if sig_text else ext_text
        hashed = f"{part_a}_{_hash12(cipher_text)}_{_hash12(tail if ext_text else '')}"
        raw = (
            f"{part_a}_{cipher_text}_{ext_text}_{sig_text}"
            if sig_text
            else (f"{part_a}_{cipher_text}_{ext_text}")
        )
        return hashed, raw

    sorted_exts = sorted(e for e in exts if e not in (EXT_SERVER_NAME, EXT_ALPN))
    ja4, ja4_r = build(sorted(_hex4(ciphers)), _hex4(sorted_exts))
    ja4_o, ja4_ro = build(_hex4(ciphers), _hex4(exts))
    return JA4(ja4=ja4, ja4_r=ja4_r, ja4_o=ja4_o, ja4_ro=ja4_ro)


def ja4_for_hello(hello: ClientHello, *, transport: str = "t") -> JA4:
    """All four JA4 variants of a parsed :class:`ClientHello`."""
    return ja4_variants(
        hello.cipher_suites,
        hello.extensions,
        alpn=hello.alpn_raw,
        has_sni=hello.has_sni,
        version=hello.legacy_version,
        supported_versions=hello.supported_versions,
        signature_algorithms=hello.signature_algorithms,
        transport=transport,
    )


def ja4_from_client_hello(raw: bytes, *, transport: str = "t") -> str | None:
    """The JA4 string of a raw ClientHello (record, handshake message or bare body, e.g.
    mitmproxy's ``client_hello.raw_bytes()``), or None if the bytes are not a ClientHello.
    Never raises."""
    try:
        return ja4_for_hello(parse_client_hello(raw), transport=transport).ja4
    except (ValueError, IndexError):
        return None
