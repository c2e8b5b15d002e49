"""Incremental framer for the AWS event stream (``application/vnd.amazon.eventstream``).

Wire format (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html,
"Event stream encoding"; the same framing carries Bedrock's ``InvokeModelWithResponseStream``
and ``ConverseStream``, https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html):

    prelude:  total length (u32 BE) | headers length (u32 BE) | CRC32 of those 8 bytes (u32 BE)
    headers:  repeated  name length (u8) | name (UTF-8) | value type (u8) | value
    payload:  total length - headers length - 16 bytes
    trailer:  CRC32 of everything before it (u32 BE)

Header value types: 0 true, 1 false (no value bytes), 2 byte (i8), 3 short (i16), 4 integer (i32),
5 long (i64), 6 byte array (u16 length + bytes), 7 string (u16 length + UTF-8), 8 timestamp
(i64 milliseconds since the epoch), 9 UUID (16 bytes). CRC32 is the IEEE polynomial (zlib).

Error and resync policy (the framer never raises):

* prelude CRC mismatch, or a length that cannot be right (total < 16, headers longer than the
  message, total over ``max_message``): the length fields cannot be trusted, so the framer
  reports one error and scans forward one byte at a time for the next offset whose 12-byte
  prelude has a matching CRC and sane lengths, then carries on from there (bytes skipped are
  counted in the error text);
* message CRC mismatch with a valid prelude: the length is trusted, so exactly that message is
  skipped (reported, not parsed) and framing continues at the next message;
* malformed headers inside a CRC-valid message: the message is returned with ``error`` set and
  whatever headers parsed before the fault;
* end of body inside a message (:meth:`EventStreamFramer.finish`): reported as truncated; the
  partial message is not parsed.

Memory is bounded by ``max_message`` (default 16 MiB + headers; AWS caps payloads at 16 MiB
and headers at 128 KiB): a buffer that holds no valid prelude is trimmed as it is scanned.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field

PRELUDE = 12
OVERHEAD = 16  # prelude + message CRC
DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024 + 128 * 1024 + OVERHEAD
MAX_HEADERS = 128 * 1024
_MAX_ERRORS = 50

HeaderValue = bool | int | bytes | str


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One framed message: ``headers`` in wire order (name, typed value); ``payload`` bytes.
    ``error`` is set when the headers block was malformed (the CRCs were fine)."""

    headers: list[tuple[str, HeaderValue]] = field(default_factory=list)
    payload: bytes = b""
    error: str | None = None

    def header(self, name: str) -> HeaderValue | None:
        """The first header called ``name`` (case-sensitive, as AWS sends ``:event-type``)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def message_type(self) -> str:
        """``:message-type``: ``event``, ``exception`` or ``error`` ("" when absent)."""
        value = self.header(":message-type")
        return value if isinstance(value, str) else ""

    @property
    def event_type(self) -> str:
        """``:event-type`` (``chunk``, ``messageStart``, ``metadata`` …), or the exception type
        (``:exception-type``) / error code (``:error-code``) for those messages."""
        for name in (":event-type", ":exception-type", ":error-code"):
            value = self.header(name)
            if isinstance(value, str):
                return value
        return ""


def parse_headers(block: bytes) -> tuple[list[tuple[str, HeaderValue]], str | None]:
    """Decode a headers block: ``(headers, error)``; on a fault, the headers before it."""
    out: list[tuple[str, HeaderValue]] = []
    pos, n = 0, len(block)
    while pos < n:
        name_len = block[pos]
        pos += 1
        if name_len == 0 or pos + name_len + 1 > n:
            return out, "malformed event-stream header name"
        name = block[pos : pos + name_len].decode("utf-8", "replace")
        pos += name_len
        kind = block[pos]
        pos += 1
        value: HeaderValue
        if kind in (0, 1):
            value = kind == 0
        elif kind in (2, 3, 4, 5, 8):
            size = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}[kind]
            if pos + size > n:
                return out, "truncated event-stream header value"
            value = int.from_bytes(block[pos : pos + size], "big", signed=True)
            pos += size
        elif kind in (6, 7):
            if pos + 2 > n:
                return out, "truncated event-stream header value"
            (length,) = struct.unpack_from(">H", block, pos)
            pos += 2
            if pos + length > n:
                return out, "truncated event-stream header value"
            raw = bytes(block[pos : pos + length])
            pos += length
            value = raw.decode("utf-8", "replace") if kind == 7 else raw
        elif kind == 9:
            if pos + 16 > n:
                return out, "truncated event-stream header value"
            value = str(uuid.UUID(bytes=bytes(block[pos : pos + 16])))
            pos += 16
        else:
            return out, f"unknown event-stream header type {kind}"
        out.append((name, value))
    return out, None


def _prelude_ok(buf: bytes | bytearray, pos: int, max_message: int) -> bool:
    total, headers_len, crc = struct.unpack_from(">III", buf, pos)
    if zlib.crc32(bytes(buf[pos : pos + 8])) != crc:
        return False
    return OVERHEAD <= total <= max_message and headers_len <= min(total - OVERHEAD, MAX_HEADERS)


class EventStreamFramer:
    """Split an event stream into :class:`EventMessage` objects as bytes arrive."""

    def __init__(self, *, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self.max_message = max(int(max_message), OVERHEAD)
        self.errors: list[str] = []
        self.messages_seen = 0
        self._buf = bytearray()
        self._resyncing = False
        self._skipped = 0

    def feed(self, chunk: bytes) -> list[EventMessage]:
        """Consume ``chunk``; return the messages it completed. Never raises."""
        out: list[EventMessage] = []
        if not chunk:
            return out
        self._buf += chunk
        buf = self._buf
        while True:
            if self._resyncing and not self._resync():
                break
            if len(buf) < PRELUDE:
                break
            if not _prelude_ok(buf, 0, self.max_message):
                self._error("event-stream prelude CRC mismatch or bad length; resyncing")
                self._resyncing = True
                self._skipped = 0
                continue
            total, headers_len = struct.unpack_from(">II", buf, 0)
            if len(buf) < total:
                break
            message = bytes(buf[:total])
            del buf[:total]
            self.messages_seen += 1
            (crc,) = struct.unpack_from(">I", message, total - 4)
            if zlib.crc32(message[:-4]) != crc:
                self._error("event-stream message CRC mismatch; message skipped")
                continue
            headers, error = parse_headers(message[PRELUDE : PRELUDE + headers_len])
            if error:
                self._error(error)
            out.append(EventMessage(headers, message[PRELUDE + headers_len : -4], error))
        return out

    def finish(self) -> list[EventMessage]:
        """End of body: report a partial message or unsynchronised bytes. Never raises."""
        if self._resyncing:
            skipped = self._skipped + len(self._buf)
            self._error(f"event stream ended while resyncing ({skipped} bytes skipped)")
        elif self._buf:
            if len(self._buf) < PRELUDE:
                self._error(f"truncated event-stream prelude ({len(self._buf)} of 12 bytes)")
            else:
                total = struct.unpack_from(">I", self._buf, 0)[0]
                self._error(f"truncated event-stream message ({len(self._buf)} of {total} bytes)")
        self._buf.clear()
        self._resyncing = False
        return []

    def _resync(self) -> bool:
        """Drop bytes until a plausible prelude starts the buffer; False if more input needed."""
        buf = self._buf
        limit = len(buf) - PRELUDE
        for pos in range(1, limit + 1):
            if _prelude_ok(buf, pos, self.max_message):
                self._skipped += pos
                del buf[:pos]
                self._resyncing = False
                self._error(f"event stream resynchronised after {self._skipped} bytes")
                return True
        if limit > 0:  # keep only a possible prelude start
            self._skipped += limit
            del buf[:limit]
        return False

    def _error(self, message: str) -> None:
        if len(self.errors) < _MAX_ERRORS and message not in self.errors:
            self.errors.append(message)


def encode_message(
    headers: list[tuple[str, HeaderValue, int]] | list[tuple[str, str]], payload: bytes
) -> bytes:
    """Encode one message (for tests, stand-ins and tools). ``headers`` are ``(name, value)``
    strings (type 7) or ``(name, value, type)`` triples for the other types."""
    block = bytearray()
    for item in headers:
        name, value = item[0], item[1]
        kind = item[2] if len(item) > 2 else 7  # type: ignore[misc]
        raw_name = str(name).encode("utf-8")
        block += bytes([len(raw_name)]) + raw_name + bytes([kind])
        if kind in (0, 1):
            pass
        elif kind in (2, 3, 4, 5, 8):
            size = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8}[kind]
            block += int(value).to_bytes(size, "big", signed=True)  # type: ignore[arg-type]
        elif kind in (6, 7):
            data = value if isinstance(value, bytes) else str(value).encode("utf-8")
            block += struct.pack(">H", len(data)) + data
        elif kind == 9:
            block += uuid.UUID(str(value)).bytes
    total = OVERHEAD + len(block) + len(payload)
    prelude = struct.pack(">II", total, len(block))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + bytes(block) + payload
    return body + struct.pack(">I", zlib.crc32(body))


def parse_event_stream(data: bytes) -> tuple[list[EventMessage], list[str]]:
    """Frame a whole body at once: ``(messages, errors)``."""
    framer = EventStreamFramer()
    messages = framer.feed(data) + framer.finish()
    return messages, framer.errors
