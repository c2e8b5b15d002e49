"""Incremental HTTP/2 reassembly over the two decrypted byte streams of one connection.

Frames are read here; header blocks (HEADERS/CONTINUATION, and PUSH_PROMISE to keep the table in
step) are decoded with the ``hpack`` package, one decoder — one dynamic table — per direction.
DATA is collected per stream; an exchange is emitted when both sides ended the stream (or it was
reset, or the connection ended). Informational (1xx) responses are skipped; trailers are added
after the response headers.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from provenance.pcap.http_common import BodyBuffer, HttpExchange

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _RST, _PUSH, _GOAWAY, _CONT = 0, 1, 3, 5, 7, 9
_END_STREAM, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x4, 0x8, 0x20
_MAX_FRAME = 1 << 24


@dataclass(slots=True)
class _Stream:
    exchange: HttpExchange | None = None
    req_body: BodyBuffer = field(default_factory=BodyBuffer)
    resp_body: BodyBuffer = field(default_factory=BodyBuffer)
    req_done: bool = False
    resp_done: bool = False
    final_headers: bool = False


class Http2Reassembler:
    """Feed each direction's bytes in order; completed exchanges go to ``emit``."""

    def __init__(self, emit: Callable[[HttpExchange], None]) -> None:
        import hpack

        self.emit = emit
        self.buf = (bytearray(), bytearray())
        self.decoders = (hpack.Decoder(), hpack.Decoder())
        for dec in self.decoders:
            dec.max_allowed_table_size = 1 << 20
            dec.max_header_list_size = 1 << 22
        self.preface_seen = False
        self.block: list[tuple[int, int, bytearray, bool] | None] = [None, None]
        self.streams: dict[int, _Stream] = {}
        self.error: str | None = None

    def feed(self, direction: int, data: bytes, ts: float) -> None:
        """``direction`` 0 = client to server, 1 = server to client."""
        if self.error:
            return
        buf = self.buf[direction]
        buf.extend(data)
        if direction == 0 and not self.preface_seen:
            if len(buf) < len(PREFACE):
                if not PREFACE.startswith(bytes(buf)):
                    self.error = "missing HTTP/2 preface"
                return
            if not buf.startswith(PREFACE):
                self.error = "missing HTTP/2 preface"
                return
            del buf[: len(PREFACE)]
            self.preface_seen = True
        try:
            while len(buf) >= 9:
                length = int.from_bytes(buf[:3], "big")
                if length > _MAX_FRAME:
                    raise ValueError("oversized frame")
                if len(buf) < 9 + length:
                    return
                ftype, flags = buf[3], buf[4]
                stream_id = struct.unpack_from("!I", buf, 5)[0] & 0x7FFFFFFF
                payload = bytes(buf[9 : 9 + length])
                del buf[: 9 + length]
                self._frame(direction, ftype, flags, stream_id, payload, ts)
        except Exception as exc:  # hpack errors, bad padding: the connection is unreadable
            self.error = f"HTTP/2 parse error ({type(exc).__name__})"

    @staticmethod
    def _unpad(flags: int, payload: bytes) -> bytes:
        if flags & _PADDED:
            pad = payload[0]
            if pad >= len(payload):
                raise ValueError("bad padding")
            return payload[1 : len(payload) - pad]
        return payload

    def _frame(self, d: int, ftype: int, flags: int, sid: int, payload: bytes, ts: float) -> None:
        if ftype == _DATA:
            stream = self.streams.get(sid)
            if stream is None or stream.exchange is None:
                return
            body = self._unpad(flags, payload)
            if d == 0:
                stream.req_body.add(body)
            else:
                if stream.exchange.t_response_first is None:
                    stream.exchange.t_response_first = ts
                stream.resp_body.add(body)
            if flags & _END_STREAM:
                self._end(d, sid, ts)
        elif ftype in (_HEADERS, _PUSH):
            body = self._unpad(flags, payload)
            if ftype == _HEADERS and flags & _PRIORITY:
                body = body[5:]
            if ftype == _PUSH:
                body = body[4:]
            self.block[d] = (sid, ftype, bytearray(body), bool(flags & _END_STREAM))
            if flags & _END_HEADERS:
                self._header_block(d, ts)
        elif ftype == _CONT:
            pending = self.block[d]
            if pending is None or pending[0] != sid:
                raise ValueError("unexpected CONTINUATION")
            pending[2].extend(payload)
            if flags & _END_HEADERS:
                self._header_block(d, ts)
        elif ftype == _RST:
            stream = self.streams.pop(sid, None)
            if stream is not None and stream.exchange is not None:
                stream.exchange.error = "stream reset"
                self._emit(stream, ts)

    def _header_block(self, d: int, ts: float) -> None:
        pending = self.block[d]
        self.block[d] = None
        assert pending is not None
        sid, ftype, block, end_stream = pending
        headers = [(str(k), str(v)) for k, v in self.decoders[d].decode(bytes(block))]
        if ftype == _PUSH:
            return  # decoded only to keep the dynamic table in step
        pseudo = {k: v for k, v in headers if k.startswith(":")}
        regular = [(k, v) for k, v in headers if not k.startswith(":")]
        if d == 0:
            stream = self.streams.setdefault(sid, _Stream())
            if stream.exchange is None:
                stream.exchange = HttpExchange(
                    method=pseudo.get(":method", ""),
                    target=pseudo.get(":path", ""),
                    http_version="HTTP/2.0",
                    request_headers=regular,
                    authority=pseudo.get(":authority"),
                    t_request=ts,
                )
            else:  # request trailers
                stream.exchange.request_headers.extend(regular)
        else:
            stream = self.streams.get(sid)
            if stream is None or stream.exchange is None:
                return
            exchange = stream.exchange
            if exchange.t_response_first is None:
                exchange.t_response_first = ts
            status = pseudo.get(":status")
            if status is not None and status.isdigit() and 100 <= int(status) < 200:
                return
            if stream.final_headers:
                exchange.response_headers.extend(regular)  # trailers
            else:
                stream.final_headers = True
                exchange.status = int(status) if status and status.isdigit() else None
                exchange.response_headers = regular
        if end_stream:
            self._end(d, sid, ts)

    def _end(self, d: int, sid: int, ts: float) -> None:
        stream = self.streams.get(sid)
        if stream is None or stream.exchange is None:
            return
        if d == 0:
            stream.req_done = True
            stream.exchange.t_request_end = ts
        else:
            stream.resp_done = True
            stream.exchange.t_response_end = ts
        if stream.req_done and stream.resp_done:
            del self.streams[sid]
            self._emit(stream, ts)

    def _emit(self, stream: _Stream, ts: float) -> None:
        exchange = stream.exchange
        assert exchange is not None
        exchange.request_body = stream.req_body.value()
        exchange.response_body = stream.resp_body.value()
        if exchange.t_response_end is None and exchange.status is not None:
            exchange.t_response_end = ts
        self.emit(exchange)

    def close(self, ts: float) -> None:
        """End of connection: emit every open stream, marked incomplete."""
        for stream in self.streams.values():
            if stream.exchange is not None:
                stream.exchange.error = (
                    stream.exchange.error or "stream incomplete at end of capture"
                )
                self._emit(stream, ts)
        self.streams.clear()
