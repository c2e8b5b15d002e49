"""ClientHello parsing, GREASE, JA3 and the pure JA4 entry point for the live addon."""

from __future__ import annotations

import contextlib
import ssl

from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.tls import (
    MalformedHello,
    is_grease,
    ja3_hash,
    ja3_string,
    ja4_from_client_hello,
    ja4_variants,
    parse_client_hello,
)


def python_client_hello(alpn: tuple[str, ...] = (), sni: str | None = "example.com") -> bytes:
    """The first flight of Python's ssl client (one ClientHello record)."""
    ctx = ssl.create_default_context()
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_grease_values() -> None:
    greases = [0x0A0A + 0x1010 * i for i in range(16)]
    assert all(is_grease(v) for v in greases)
    assert not any(is_grease(v) for v in (0x0A0B, 0x1301, 0x0000, 0xFAFB, 0x1A0A))


def test_parse_python_client_hello_in_three_forms() -> None:
    record = python_client_hello(alpn=("h2", "http/1.1"))
    hello = parse_client_hello(record)
    assert hello.sni == "example.com" and hello.has_sni
    assert hello.alpn == ("h2", "http/1.1")
    assert 0x0304 in hello.supported_versions and hello.max_version == 0x0304
    assert hello.signature_algorithms and hello.supported_groups
    message = record[5:]
    body = message[4:]
    ja4 = ja4_from_client_hello(record)
    assert ja4 == ja4_from_client_hello(message) == ja4_from_client_hello(body)
    assert ja4 is not None and ja4.startswith("t13d") and ja4[8:10] == "h2"
    no_sni = ja4_from_client_hello(python_client_hello(sni=None))
    assert no_sni is not None and no_sni[3] == "i" and no_sni[8:10] == "00"


def test_grease_is_ignored_by_fingerprints() -> None:
    plain = ja4_variants(
        [0x1301, 0x1302],
        [0x0000, 0x002B, 0x000D],
        has_sni=True,
        version=0x0303,
        supported_versions=[0x0304],
        signature_algorithms=[0x0403, 0x0804],
        alpn=["h2"],
    )
    greased = ja4_variants(
        [0x3A3A, 0x1301, 0x1302],
        [0xCACA, 0x0000, 0x002B, 0x000D, 0x1A1A],
        has_sni=True,
        version=0x0303,
        supported_versions=[0x7A7A, 0x0304],
        signature_algorithms=[0x0403, 0x0804],
        alpn=["h2"],
    )
    assert plain == greased
    assert plain.ja4.startswith("t13d0203h2_")
    assert plain.ja4_r == "t13d0203h2_1301,1302_000d,002b_0403,0804"
    assert plain.ja4_ro == "t13d0203h2_1301,1302_0000,002b,000d_0403,0804"


def test_alpn_edge_cases() -> None:
    def part_a(alpn: list[bytes]) -> str:
        return ja4_variants([0x1301], [0x0010], has_sni=False, version=0x0303, alpn=alpn).ja4[:10]

    assert part_a([b"http/1.1"]) == "t12i0101h1"
    assert part_a([b"h"]) == "t12i0101hh"
    assert part_a([b"\xab\xcd"]) == "t12i0101ad"  # non-alphanumeric: hex digits
    assert part_a([]) == "t12i010100"


def test_ja3_string_shape() -> None:
    hello = parse_client_hello(python_client_hello())
    text = ja3_string(hello)
    version, ciphers, exts, groups, points = text.split(",")
    assert version == "771"
    assert ciphers.split("-")[0] == "4866"  # TLS_AES_256_GCM_SHA384 first in OpenSSL 3
    assert exts.split("-")[0] == "0" and points == "0-1-2"  # OpenSSL offers all three
    assert len(ja3_hash(hello)) == 32 and groups


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_parser_rejects_garbage_with_malformed_hello_only(data: bytes) -> None:
    with contextlib.suppress(MalformedHello):
        parse_client_hello(data)
    assert ja4_from_client_hello(data) is None or isinstance(ja4_from_client_hello(data), str)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=5, max_value=400), st.binary(min_size=1, max_size=4))
def test_truncated_or_flipped_real_hello_never_crashes(cut: int, junk: bytes) -> None:
    record = python_client_hello(alpn=("h2",))
    for candidate in (record[:cut], record[:cut] + junk + record[cut + len(junk) :]):
        result = ja4_from_client_hello(candidate)
        assert result is None or result.startswith("t")
