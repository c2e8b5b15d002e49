"""Incremental framer for Connect and gRPC / gRPC-web length-prefixed envelopes.

Every envelope is one flags byte, a 4-byte big-endian payload length, then the payload.

* Connect streaming (https://connectrpc.com/docs/protocol/#streaming-request, "Envelope"):
  flag ``0x01`` = payload compressed with ``connect-content-encoding``; ``0x02`` = end-stream
  message, whose payload is JSON ``{"error"?, "metadata"?}``.
* gRPC over HTTP/2 (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md,
  "Length-Prefixed-Message"): flag ``0x01`` = compressed with ``grpc-encoding``; other bits unused.
* gRPC-web (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md): as gRPC, plus the
  MSB ``0x80`` marking a trailers frame whose payload is HTTP/1-style ``name: value`` lines.

The framer never raises: a frame longer than ``max_message`` is skipped with a note in
:attr:`EnvelopeFramer.errors`; a body that ends inside a frame is reported by :meth:`finish`;
a compressed payload that fails to decompress is returned with ``error`` set.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from provenance.extract.decode import decode_body

DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
PROTOCOLS = ("connect", "grpc", "grpc-web")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One frame. ``kind`` is ``"message"``, ``"end_stream"`` (Connect 0x02) or ``"trailers"``
    (gRPC-web 0x80). ``payload`` is already decompressed when the frame was flagged 0x01."""

    flags: int
    payload: bytes
    kind: str = "message"
    compressed: bool = False
    error: str | None = None


class EnvelopeFramer:
    """Split a stream of envelopes. ``protocol`` is one of :data:`PROTOCOLS`;
    ``message_encoding`` is the per-message compression (``connect-content-encoding`` or
    ``grpc-encoding`` header value), used for frames flagged compressed."""

    def __init__(
        self,
        protocol: str = "connect",
        *,
        message_encoding: str | None = None,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.protocol = protocol if protocol in PROTOCOLS else "connect"
        self.message_encoding = (message_encoding or "").strip().lower() or None
        self.max_message = max_message
        self.errors: list[str] = []
        self.frames_seen = 0
        self._buf = bytearray()
        self._skip = 0  # bytes of an oversize payload still to discard

    def feed(self, chunk: bytes) -> list[Envelope]:
        """Consume ``chunk``; return the frames it completed."""
        out: list[Envelope] = []
        if not chunk:
            return out
        if self._skip:
            dropped = min(self._skip, len(chunk))
            self._skip -= dropped
            chunk = chunk[dropped:]
        self._buf += chunk
        while len(self._buf) >= 5 and not self._skip:
            flags, length = struct.unpack_from(">BI", self._buf)
            if length > self.max_message:
                self.errors.append(f"envelope of {length} bytes over the {self.max_message} cap")
                available = len(self._buf) - 5
                self._skip = max(length - available, 0)
                del self._buf[: 5 + min(length, available)]
                self.frames_seen += 1
                continue
            if len(self._buf) < 5 + length:
                break
            payload = bytes(self._buf[5 : 5 + length])
            del self._buf[: 5 + length]
            self.frames_seen += 1
            out.append(self._frame(flags, payload))
        return out

    def finish(self) -> list[Envelope]:
        """End of body: report a truncated frame (its partial payload is not parsed)."""
        if self._skip:
            self.errors.append("body ended inside an oversize envelope")
        elif self._buf:
            if len(self._buf) < 5:
                self.errors.append(f"truncated envelope header ({len(self._buf)} of 5 bytes)")
            else:
                _, length = struct.unpack_from(">BI", self._buf)
                have = len(self._buf) - 5
                self.errors.append(f"truncated envelope ({have} of {length} payload bytes)")
        self._buf.clear()
        self._skip = 0
        return []

    def _frame(self, flags: int, payload: bytes) -> Envelope:
        if self.protocol == "grpc-web" and flags & 0x80:
            return Envelope(flags, payload, kind="trailers")
        kind = "end_stream" if self.protocol == "connect" and flags & 0x02 else "message"
        if not flags & 0x01:
            return Envelope(flags, payload, kind=kind)
        encoding = self.message_encoding
        if encoding in (None, "identity") and payload[:2] == b"\x1f\x8b":
            encoding = "gzip"  # flagged compressed without a usable header: gzip is the default
        if encoding in (None, "identity"):
            error = "compressed envelope without a message encoding"
            self.errors.append(error)
            return Envelope(flags, payload, kind=kind, compressed=True, error=error)
        decoded, error = decode_body(payload, encoding, cap=self.max_message)
        if error:
            error = f"envelope: {error}"
            self.errors.append(error)
        return Envelope(flags, decoded, kind=kind, compressed=True, error=error)


def parse_envelopes(
    data: bytes, protocol: str = "connect", *, message_encoding: str | None = None
) -> tuple[list[Envelope], list[str]]:
    """Frame a whole body at once: ``(frames, errors)``."""
    framer = EnvelopeFramer(protocol, message_encoding=message_encoding)
    frames = framer.feed(data) + framer.finish()
    return frames, framer.errors


def parse_trailers(payload: bytes) -> list[tuple[str, str]]:
    """Parse a gRPC-web trailers frame (``name: value`` lines, CRLF separated)."""
    out: list[tuple[str, str]] = []
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out.append((name.strip().lower(), value.strip()))
    return out
