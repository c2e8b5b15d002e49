"""Incremental Server-Sent Events framer (bytes in, events out).

Follows the WHATWG HTML "event stream interpretation" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
lines end in CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of the next are
one line end); a leading UTF-8 BOM is dropped; lines starting with ``:`` are comments; ``field:
value`` strips one space after the colon; ``data`` lines are joined with LF; a blank line
dispatches the event unless its data is empty; ``id`` values containing NUL are ignored.

One deliberate difference: at end of stream a pending event with data is still returned (with
``complete=False``), because a truncated stream's last frame may carry the usage we want.
An event larger than ``max_event`` bytes is dropped and reported in :attr:`SSEFramer.errors`;
memory is bounded by that size whatever the stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MAX_EVENT = 16 * 1024 * 1024
_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event. ``event`` is the ``event:`` field ("" when absent, which a browser
    would call ``message``); ``data`` is the joined data lines; ``id`` the last ``id:`` seen."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None
    complete: bool = True

    @property
    def is_done(self) -> bool:
        """The OpenAI-style end marker ``data: [DONE]``."""
        return self.data.strip() == "[DONE]"


class SSEFramer:
    """Feed bytes with :meth:`feed`, get complete events back; :meth:`finish` at end of body.

    Never raises for any input: undecodable bytes become U+FFFD, oversize events are dropped
    with a note in :attr:`errors`.
    """

    def __init__(self, *, max_event: int = DEFAULT_MAX_EVENT) -> None:
        self.max_event = max_event
        self.errors: list[str] = []
        self.events_seen = 0
        self._buf = bytearray()
        self._skip_lf = False  # previous chunk ended in CR: an LF now is part of that line end
        self._started = False
        self._event = ""
        self._data: list[str] = []
        self._data_size = 0
        self._id: str | None = None
        self._retry: int | None = None
        self._discarding = False  # inside an oversize event: skip to its blank line
        self._scan_from = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk``; return the events it completed."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        self._buf += chunk
        if not self._started:
            if len(self._buf) < 3 and _BOM.startswith(bytes(self._buf)):
                return []
            self._started = True
            if self._buf.startswith(_BOM):
                del self._buf[:3]
        out: list[SSEEvent] = []
        buf = self._buf
        if b"\r" not in chunk:
            # The usual stream: LF line ends only. What was buffered holds no line end (it is
            # the rest of a line), so only this chunk's bytes need searching.
            if b"\n" in chunk:
                lines = bytes(buf).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    self._line(line, out)
                buf[:] = rest
            if len(buf) > self.max_event:
                self._oversize()
                buf.clear()
            self._scan_from = len(buf)
            return out
        pos = 0
        # Bytes before _scan_from were searched already: no line end there (keeps long lines
        # arriving in many chunks linear, not quadratic).
        for match in _LINE_END.finditer(buf, self._scan_from):
            if match.group() == b"\r" and match.end() == len(buf):
                self._skip_lf = True  # a CRLF may be split across chunks
            self._line(bytes(buf[pos : match.start()]), out)
            pos = match.end()
        del buf[:pos]
        if len(buf) > self.max_event:
            self._oversize()
            buf.clear()
        self._scan_from = len(buf)
        return out

    def finish(self) -> list[SSEEvent]:
        """End of body: return a pending event (``complete=False``) if it has data."""
        out: list[SSEEvent] = []
        if self._buf:
            self._line(bytes(self._buf), out)
            self._buf.clear()
        if self._data and not self._discarding:
            self.errors.append("SSE stream ended inside an event")
            out.append(self._build(complete=False))
        self._reset_event()
        return out

    def _oversize(self) -> None:
        if not self._discarding:
            self.errors.append(f"SSE event larger than {self.max_event} bytes dropped")
        self._discarding = True
        self._data.clear()
        self._data_size = 0

    def _line(self, line: bytes, out: list[SSEEvent]) -> None:
        if not line:
            if self._discarding:
                self._discarding = False
                self._reset_event()
                return
            if self._data:
                out.append(self._build(complete=True))
            self._reset_event()
            return
        if self._discarding or line[:1] == b":":
            return
        if line.startswith(b"data:"):  # the usual line, without the general field parsing
            value = line[6:] if line[5:6] == b" " else line[5:]
            self._data_size += len(value) + 1
            if self._data_size > self.max_event:
                self._oversize()
                return
            self._data.append(value.decode("utf-8", "replace"))
            return
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        field = name.decode("utf-8", "replace")
        if field == "data":
            self._data_size += len(value) + 1
            if self._data_size > self.max_event:
                self._oversize()
                return
            self._data.append(value.decode("utf-8", "replace"))
        elif field == "event":
            self._event = value.decode("utf-8", "replace")
        elif field == "id":
            if b"\x00" not in value:
                self._id = value.decode("utf-8", "replace")
        elif field == "retry" and value.isdigit():
            self._retry = int(value)

    def _build(self, *, complete: bool) -> SSEEvent:
        self.events_seen += 1
        return SSEEvent(
            event=self._event,
            data="\n".join(self._data),
            id=self._id,
            retry=self._retry,
            complete=complete,
        )

    def _reset_event(self) -> None:
        # The last event id persists across events (spec); name and data do not.
        self._event = ""
        self._data = []
        self._data_size = 0


def parse_sse(data: bytes) -> list[SSEEvent]:
    """Frame a whole SSE body at once (convenience for tests and imports)."""
    framer = SSEFramer()
    return framer.feed(data) + framer.finish()
