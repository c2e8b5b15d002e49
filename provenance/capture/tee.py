"""The per-flow streaming tee, and the pure decisions of what to stream.

mitmproxy calls ``flow.response.stream`` (or ``flow.request.stream``) with each body chunk as it
arrives and forwards whatever the callable returns; a final call passes ``b""``. Chunks still carry
their Content-Encoding (gzip/br/zstd); the body tap decodes them incrementally.

Contract of :class:`StreamTee`: it returns every chunk unchanged, at once, and never raises — an
exception escaping it is not caught by mitmproxy and would break the client's stream. A failure of
the tap is recorded on the tee (``failure``) and the tap is dropped; the bytes keep flowing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# Content types whose bodies are streams: never buffered, whatever their length.
STREAM_CONTENT_TYPES: tuple[str, ...] = (
    "text/event-stream",
    "application/connect+",
    "application/grpc",
    "application/x-ndjson",
    "application/jsonl",
    "application/vnd.amazon.eventstream",
)

STREAM = "stream"  # a streaming content type
UNKNOWN_LENGTH = "unknown-length"  # chunked, or no Content-Length: may be a stream, may be huge
LARGE = "large"  # Content-Length above the body cap


class Tap(Protocol):
    """The part of ``provenance.extract.BodyTap`` the tee uses."""

    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> Any: ...


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def is_stream_content_type(content_type: str | None) -> bool:
    """True for SSE, Connect/gRPC streams, NDJSON and AWS event streams."""
    ct = (content_type or "").strip().lower()
    return any(ct.startswith(prefix) for prefix in STREAM_CONTENT_TYPES)


def response_stream_reason(headers: Mapping[str, str], *, max_body: int) -> str | None:
    """Why a response body should go through the tee instead of being buffered, or None.

    ``headers`` is case-insensitive (mitmproxy's ``Headers``) or lower-cased. Streams by content
    type, bodies of unknown length (chunked, or read until close) and bodies above the cap are teed.
    """
    if is_stream_content_type(headers.get("content-type")):
        return STREAM
    length = _content_length(headers)
    if length is None or "chunked" in headers.get("transfer-encoding", "").lower():
        return UNKNOWN_LENGTH
    if length > max_body:
        return LARGE
    return None


def request_stream_reason(headers: Mapping[str, str], *, max_body: int) -> str | None:
    """Why a request body should be streamed upstream through the tee, or None (buffer it).

    Small uploads are buffered as usual. Streaming content types (a Connect/gRPC bidi stream would
    deadlock if buffered), bodies above the cap and bodies of unknown length are teed; a request
    without a body is never streamed by mitmproxy, whatever this returns.
    """
    if is_stream_content_type(headers.get("content-type")):
        return STREAM
    length = _content_length(headers)
    if length is None or "chunked" in headers.get("transfer-encoding", "").lower():
        return UNKNOWN_LENGTH
    if length > max_body:
        return LARGE
    return None


class StreamTee:
    """A ``stream`` callable that feeds a body tap and hands each chunk back unchanged.

    ``size`` counts the bytes that passed; ``ended`` is set by the final ``b""`` call;
    ``failure`` holds a one-line reason if the tap failed (the tee then only counts bytes).
    """

    __slots__ = ("ended", "failure", "reason", "size", "tap")

    def __init__(self, tap: Tap | None, *, reason: str) -> None:
        self.tap = tap
        self.reason = reason
        self.size = 0
        self.ended = False
        self.failure: str | None = None

    def __call__(self, chunk: bytes) -> bytes:
        try:
            if chunk:
                self.size += len(chunk)
                if self.tap is not None:
                    self.tap.feed(chunk)
            else:
                self.ended = True
        except Exception as exc:  # the tap broke: keep the bytes flowing, remember why
            self.failure = f"body tap failed: {type(exc).__name__}"
            self.tap = None
        return chunk

    def finish(self) -> Any:
        """The tap's result (``TapResult``), or None if there was no tap or it failed."""
        tap, self.tap = self.tap, None
        if tap is None:
            return None
        try:
            return tap.finish()
        except Exception as exc:
            self.failure = f"body tap failed at the end: {type(exc).__name__}"
            return None
