"""Content-Encoding decoding: every codec, stacked encodings, truncation, garbage and bombs."""

from __future__ import annotations

import gzip
import itertools
import os
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.decode import CAP_REACHED, BodyDecoder, decode_body
from tests.extract.conftest import CI

PLAIN = b'{"model":"gpt-4o","choices":[]}\n' * 200 + os.urandom(512) + "é€😀".encode() * 50


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,  # zlib-wrapped, RFC 1950 (what "deflate" means in RFC 9110)
    "deflate-raw": _raw_deflate,  # raw RFC 1951, which many servers send as "deflate"
    "br": brotli.compress,
    "zstd": lambda d: zstandard.ZstdCompressor().compress(d),
}


def _header(name: str) -> str:
    return "deflate" if name == "deflate-raw" else name


def _feed_all(decoder: BodyDecoder, data: bytes, step: int) -> bytes:
    out = b"".join(decoder.feed(data[i : i + step]) for i in range(0, len(data), step))
    return out + decoder.finish()


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("step", [1, 7, 4096, 10**9])
def test_every_codec_round_trips_at_any_chunking(name: str, step: int) -> None:
    wire = ENCODERS[name](PLAIN)
    decoder = BodyDecoder(_header(name))
    assert _feed_all(decoder, wire, step) == PLAIN
    assert decoder.error is None
    assert decoder.decoded_size == len(PLAIN)


@pytest.mark.parametrize("value", [None, "", "identity", " Identity "])
def test_identity_passes_bytes_through(value: str | None) -> None:
    decoder = BodyDecoder(value)
    assert decoder.identity
    assert _feed_all(decoder, PLAIN, 100) == PLAIN


def test_stacked_encodings_are_undone_last_applied_first() -> None:
    # "Content-Encoding: gzip, br" means gzip was applied first, then br (RFC 9110 8.4).
    wire = brotli.compress(gzip.compress(PLAIN))
    out, error = decode_body(wire, "gzip, br")
    assert (out, error) == (PLAIN, None)
    out, error = decode_body(wire, "br, gzip")
    assert error is not None and error.startswith("invalid")


def test_concatenated_gzip_members_and_zstd_frames_decode_as_one_body() -> None:
    assert decode_body(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip") == (b"abcd", None)
    z = zstandard.ZstdCompressor()
    assert decode_body(z.compress(b"ab") + z.compress(b"cd"), "zstd") == (b"abcd", None)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_truncation_at_every_position_is_an_error_never_an_exception(name: str) -> None:
    wire = ENCODERS[name](b"hello world, " * 20)
    for cut in range(len(wire)):
        out, error = decode_body(wire[:cut], _header(name))
        assert error is not None, cut
        assert len(out) <= 260


@pytest.mark.parametrize("name", ["gzip", "deflate", "br", "zstd"])
def test_garbage_is_a_parse_error(name: str) -> None:
    out, error = decode_body(b"\x00\xffnot compressed at all" * 3, name)
    assert error is not None and error.startswith(f"invalid {name} data")
    assert out == b"" or len(out) < 100


def test_trailing_garbage_after_a_complete_stream_is_an_error() -> None:
    _, error = decode_body(gzip.compress(b"ok") + b"JUNK", "gzip")
    assert error and "trailing" in error


def test_unknown_encoding_is_reported() -> None:
    out, error = decode_body(b"abc", "compress")
    assert out == b""
    assert error == "unsupported content-encoding 'compress'"


def test_decoder_is_inert_after_an_error() -> None:
    decoder = BodyDecoder("gzip")
    assert decoder.feed(b"not gzip") == b""
    assert decoder.error
    assert decoder.feed(gzip.compress(b"x")) == b""
    assert decoder.finish() == b""


# -- decompression bombs -------------------------------------------------------------------
BOMB_SIZE = 200 * 1024 * 1024  # 200 MiB of zeros when decoded
CAP = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """200 MiB of zeros, a few hundred bytes to a few hundred KiB on the wire.

    gzip and zstd bombs are concatenations of 1 MiB members/frames (still one valid body), so
    building them does not compress 200 MiB; brotli compresses the whole thing once (0.3 s).
    """
    mib = b"\x00" * (1024 * 1024)
    return {
        "gzip": gzip.compress(mib, 9) * 200,
        "zstd": zstandard.ZstdCompressor(level=19).compress(mib) * 200,
        "br": brotli.compress(b"\x00" * BOMB_SIZE, quality=5),
        "gzip, br": brotli.compress(gzip.compress(mib, 9) * 200),
    }


@pytest.mark.parametrize("encoding", ["gzip", "zstd", "br", "gzip, br"])
@pytest.mark.parametrize("chunk", [64 * 1024, 1])
def test_bomb_stops_at_the_cap_with_bounded_output(
    bombs: dict[str, bytes], encoding: str, chunk: int
) -> None:
    wire = bombs[encoding]
    if chunk == 1:
        wire = wire[:16384]  # one byte at a time: enough to pass the cap for every codec
    assert len(wire) < 300_000
    decoder = BodyDecoder(encoding, cap=CAP)
    largest = 0
    total = 0
    for i in range(0, len(wire), chunk):
        out = decoder.feed(wire[i : i + chunk])
        largest = max(largest, len(out))
        total += len(out)
        if decoder.cap_reached:
            break
    else:
        pytest.fail("cap never reached")
    total += len(decoder.finish())
    assert decoder.error == CAP_REACHED
    assert total == CAP == decoder.decoded_size  # never one byte past the cap
    assert largest <= CAP
    assert decoder.decoded_size < BOMB_SIZE
    assert decoder.feed(b"more") == b""


def test_default_cap_is_64_mib(bombs: dict[str, bytes]) -> None:
    out, error = decode_body(bombs["zstd"], "zstd")
    assert error == CAP_REACHED
    assert len(out) == 64 * 1024 * 1024


def test_identity_bodies_are_not_capped() -> None:
    decoder = BodyDecoder(None, cap=10)
    assert len(decoder.feed(b"x" * 100)) == 100
    assert decoder.error is None


# -- properties ----------------------------------------------------------------------------
@CI
@given(
    data=st.binary(max_size=3000),
    name=st.sampled_from(sorted(ENCODERS)),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=8),
)
def test_property_round_trip_with_random_splits(data: bytes, name: str, cuts: list[int]) -> None:
    wire = ENCODERS[name](data)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    decoder = BodyDecoder(_header(name))
    out = b"".join(decoder.feed(wire[a:b]) for a, b in itertools.pairwise(points))
    assert out + decoder.finish() == data
    assert decoder.error is None


@CI
@given(
    data=st.binary(max_size=2000),
    name=st.sampled_from(["gzip", "deflate", "br", "zstd", "gzip, br"]),
)
def test_property_arbitrary_bytes_never_raise(data: bytes, name: str) -> None:
    decoder = BodyDecoder(name, cap=10_000)
    out = decoder.feed(data) + decoder.finish()
    assert len(out) <= 10_000
    assert decoder.decoded_size == len(out)
