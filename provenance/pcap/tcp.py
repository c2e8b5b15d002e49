"""TCP stream reassembly for one direction: in-order bytes out of whatever order came in.

Sequence numbers are tracked as unbounded offsets (wrap-safe). Retransmitted and duplicated
bytes are dropped, overlapping segments trimmed, early segments held until the gap fills.
Held data is bounded (``max_pending``): past it, or at the end of the capture, a gap is
declared and the stream is marked broken (bytes after a hole cannot be framed reliably).
"""

from __future__ import annotations

from dataclasses import dataclass, field

_MOD = 1 << 32
_HALF = 1 << 31


def _delta(seq: int, ref: int) -> int:
    """Signed distance seq - ref in 32-bit sequence space."""
    d = (seq - ref) % _MOD
    return d - _MOD if d >= _HALF else d


@dataclass(slots=True)
class HalfStream:
    """One direction of a TCP connection."""

    max_pending: int = 4 << 20
    next_seq: int | None = None  # wire sequence number expected next
    offset: int = 0  # bytes delivered so far
    pending: dict[int, bytes] = field(default_factory=dict)  # stream offset -> data
    pending_bytes: int = 0
    gap: bool = False
    fin: bool = False
    retransmitted: int = 0

    def syn(self, seq: int) -> None:
        """A SYN fixes the initial sequence number (the SYN itself takes one)."""
        if self.next_seq is None:
            self.next_seq = (seq + 1) % _MOD

    def add(self, seq: int, payload: bytes) -> bytes:
        """Add a segment; return the bytes that became contiguous (possibly empty)."""
        if not payload:
            return b""
        if self.next_seq is None:
            self.next_seq = seq
        start = self.offset + _delta(seq, self.next_seq)
        end = start + len(payload)
        if end <= self.offset:
            self.retransmitted += 1
            return b""
        if start > self.offset:
            known = self.pending.get(start)
            if known is None or len(known) < len(payload):
                self.pending_bytes += len(payload) - (len(known) if known else 0)
                self.pending[start] = payload
            if self.pending_bytes > self.max_pending:
                return self._skip_gap()
            return b""
        out = bytearray(payload[self.offset - start :])
        self._advance(len(out))
        out += self._drain()
        return bytes(out)

    def _advance(self, n: int) -> None:
        self.offset += n
        self.next_seq = (self.next_seq + n) % _MOD  # type: ignore[operator]

    def _drain(self) -> bytes:
        out = bytearray()
        while self.pending:
            start = min(self.pending)
            if start > self.offset:
                break
            data = self.pending.pop(start)
            self.pending_bytes -= len(data)
            if start + len(data) > self.offset:
                chunk = data[self.offset - start :]
                out += chunk
                self._advance(len(chunk))
        return bytes(out)

    def _skip_gap(self) -> bytes:
        """Give up on the hole before the earliest held segment (marks the stream broken)."""
        self.gap = True
        start = min(self.pending)
        self._advance(start - self.offset)
        return self._drain()

    def flush(self) -> bytes:
        """At the end: deliver what is held past a hole (marks a gap if there was one)."""
        if not self.pending:
            return b""
        return self._skip_gap()
