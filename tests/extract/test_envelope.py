"""Connect / gRPC / gRPC-web envelopes: flags, compression, end-stream, trailers, truncation."""

from __future__ import annotations

import gzip
import json

from hypothesis import given
from hypothesis import strategies as st

from provenance.extract.envelope import EnvelopeFramer, parse_envelopes, parse_trailers
from tests.extract.conftest import CI, envelope


def test_connect_stream_with_compressed_message_and_end_stream() -> None:
    # https://connectrpc.com/docs/protocol/#streaming-response: Envelope-Flags 0x01 compressed,
    # 0x02 end of stream; the EndStreamResponse is JSON {"error"?, "metadata"?}.
    end = {"error": {"code": "unavailable", "message": "overloaded: back off and retry"}}
    wire = (
        envelope(b"\x0a\x02hi")
        + envelope(gzip.compress(b"\x0a\x03bye"), flags=0x01)
        + envelope(json.dumps(end).encode(), flags=0x02)
    )
    frames, errors = parse_envelopes(wire, "connect", message_encoding="gzip")
    assert errors == []
    assert [(f.kind, f.payload, f.compressed) for f in frames] == [
        ("message", b"\x0a\x02hi", False),
        ("message", b"\x0a\x03bye", True),
        ("end_stream", json.dumps(end).encode(), False),
    ]


def test_grpc_web_trailers_frame() -> None:
    # https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md: MSB of the flags byte marks
    # a trailers frame, payload "grpc-status:0\r\ngrpc-message:\r\n"-style header lines.
    trailers = b"grpc-status:0\r\ngrpc-message:OK\r\n"
    frames, errors = parse_envelopes(envelope(b"\x08\x01") + envelope(trailers, 0x80), "grpc-web")
    assert errors == []
    assert frames[1].kind == "trailers"
    assert parse_trailers(frames[1].payload) == [("grpc-status", "0"), ("grpc-message", "OK")]


def test_grpc_flag_two_is_not_end_stream() -> None:
    frames, _ = parse_envelopes(envelope(b"{}", flags=0x02), "grpc")
    assert frames[0].kind == "message"


def test_compressed_flag_without_encoding_sniffs_gzip_or_reports() -> None:
    frames, errors = parse_envelopes(envelope(gzip.compress(b"abc"), 0x01), "connect")
    assert frames[0].payload == b"abc" and errors == []
    frames, errors = parse_envelopes(envelope(b"zzz", 0x01), "connect")
    assert frames[0].error == "compressed envelope without a message encoding"
    frames, errors = parse_envelopes(envelope(b"zzz", 0x01), "grpc", message_encoding="gzip")
    assert frames[0].error and frames[0].error.startswith("envelope: invalid gzip data")


def test_every_split_and_every_truncation() -> None:
    wire = envelope(b"\x0a\x05hello") + envelope(b"") + envelope(b"\x10\x96\x01")
    whole, _ = parse_envelopes(wire)
    assert len(whole) == 3
    for cut in range(len(wire) + 1):
        framer = EnvelopeFramer()
        got = framer.feed(wire[:cut]) + framer.feed(wire[cut:]) + framer.finish()
        assert got == whole and framer.errors == []
    for cut in range(1, len(wire)):
        frames, errors = parse_envelopes(wire[:cut])
        complete = {0: 0, 12: 1, 17: 2}
        if cut in complete:
            assert len(frames) == complete[cut] and errors == []
        else:
            assert errors and errors[0].startswith("truncated envelope"), cut


def test_oversize_frame_is_skipped_and_stream_resyncs() -> None:
    framer = EnvelopeFramer(max_message=10)
    big = envelope(b"x" * 100)
    got = framer.feed(big[:50]) + framer.feed(big[50:] + envelope(b"ok")) + framer.finish()
    assert [f.payload for f in got] == [b"ok"]
    assert framer.errors == ["envelope of 100 bytes over the 10 cap"]


@CI
@given(
    payloads=st.lists(st.tuples(st.binary(max_size=40), st.sampled_from([0, 2])), max_size=6),
    step=st.integers(min_value=1, max_value=30),
)
def test_property_frames_survive_any_chunking(payloads: list[tuple[bytes, int]], step: int) -> None:
    wire = b"".join(envelope(p, f) for p, f in payloads)
    framer = EnvelopeFramer("connect")
    got = []
    for i in range(0, len(wire), step):
        got += framer.feed(wire[i : i + step])
    got += framer.finish()
    assert [(f.payload, f.flags) for f in got] == payloads
    assert framer.errors == []


@CI
@given(data=st.binary(max_size=300), protocol=st.sampled_from(["connect", "grpc", "grpc-web"]))
def test_property_arbitrary_bytes_never_raise(data: bytes, protocol: str) -> None:
    frames, errors = parse_envelopes(data, protocol, message_encoding="gzip")
    assert isinstance(errors, list)
    assert sum(len(f.payload) for f in frames if not f.compressed) <= len(data)
