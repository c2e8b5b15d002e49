"""mitmproxy flow files (``mitmdump -w``) → :class:`~provenance.records.RawExchange`.

Read with ``mitmproxy.io.FlowReader`` one flow at a time. Bodies in flow files are as on the wire
(still Content-Encoding-compressed), exactly what extraction expects. A WebSocket flow becomes
its handshake plus ``flow.websocket.messages`` (:func:`flow_item`), one session as in live
capture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from provenance.capture.convert import raw_exchange_from_flow
from provenance.capture.tee import is_stream_content_type
from provenance.importers.har import SkipEntry
from provenance.ingest import Job, Message
from provenance.records import Origin, RawExchange

MAX_FLOW = 1 << 30  # bytes one serialized flow may claim
_PIECE = 8 << 20


class FlowFileError(ValueError):
    """The flow file claims something it cannot hold (``str()`` says what)."""


class _PiecewiseReads:
    """A file whose ``read(n)`` reads in pieces, so a length prefix claiming terabytes costs
    what the file holds, not an allocation of ``n`` bytes (tnetstring reads ``read(length)``)."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self.fileobj = fileobj

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n <= _PIECE:
            return self.fileobj.read(n)
        if n > MAX_FLOW:
            raise FlowFileError(f"a flow claims {n} bytes (more than {MAX_FLOW >> 20} MiB)")
        pieces: list[bytes] = []
        while n > 0:
            piece = self.fileobj.read(min(n, _PIECE))
            if not piece:
                break
            pieces.append(piece)
            n -= len(piece)
        return b"".join(pieces)

    def readline(self, limit: int = -1) -> bytes:
        return self.fileobj.readline(limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fileobj, name)


def iter_flow_file(fileobj: IO[bytes]) -> Iterator[Any]:
    """Yield each flow; ``mitmproxy.exceptions.FlowReadException`` for a malformed file,
    :class:`FlowFileError` for a flow claiming more than :data:`MAX_FLOW` bytes."""
    from mitmproxy import io

    yield from io.FlowReader(_PiecewiseReads(fileobj)).stream()


def raw_exchange_from_flow_file(flow: Any, *, product: str | None = None) -> RawExchange:
    """One stored flow → RawExchange; raises :class:`SkipEntry` for what is not importable."""
    from mitmproxy import http

    if not isinstance(flow, http.HTTPFlow):
        raise SkipEntry(f"{getattr(flow, 'type', 'non-HTTP')} flow (not HTTP)")
    if flow.request.method == "CONNECT":
        raise SkipEntry("CONNECT tunnel")
    error = None
    if flow.response is None and flow.error is None:
        error = "no response recorded"
    content_type = flow.response.headers.get("content-type") if flow.response else None
    return raw_exchange_from_flow(
        flow,
        origin=Origin.FLOW,
        product=product,
        streamed=flow.websocket is not None or is_stream_content_type(content_type),
        error=error,
    )


def flow_messages(flow: Any) -> Iterator[Message]:
    """A WebSocket flow's messages in order, as ``(content, from_client, is_text)``."""
    for message in getattr(flow.websocket, "messages", None) or []:
        yield message.content, bool(message.from_client), bool(message.is_text)


def flow_item(flow: Any, *, product: str | None = None) -> Job:
    """One stored flow → an :class:`Job` (a WebSocket flow carries its messages);
    raises :class:`SkipEntry` for what is not importable."""
    raw = raw_exchange_from_flow_file(flow, product=product)
    return Job(raw, messages=flow_messages(flow) if flow.websocket is not None else None)
