"""Incremental framers for streamed JSON: a top-level JSON array, and newline-delimited JSON.

Gemini's ``streamGenerateContent`` without ``alt=sse`` answers with one JSON array whose
elements arrive one by one (``[{...}\\r\\n,\\r\\n{...}]``; see
https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent).
:class:`JsonArrayFramer` returns each complete top-level element as it closes, without waiting
for the closing bracket. :class:`NdjsonFramer` does the same for one JSON value per line
(``application/x-ndjson``, as Ollama streams).

Both return raw element bytes (the caller parses them); elements over ``max_element`` bytes are
dropped with a note in ``errors``. Neither raises.
"""

from __future__ import annotations

import re

DEFAULT_MAX_ELEMENT = 16 * 1024 * 1024
_STRUCT = re.compile(rb'["\[\]{}]')
_IN_STRING = re.compile(rb'["\\]')


class JsonArrayFramer:
    """Split ``[elem, elem, ...]`` into element byte strings as they complete.

    Only object and array elements are returned (scalars between commas are skipped). Bytes
    before the opening bracket other than whitespace are an error.
    """

    def __init__(self, *, max_element: int = DEFAULT_MAX_ELEMENT) -> None:
        self.max_element = max_element
        self.errors: list[str] = []
        self.elements_seen = 0
        self._buf = bytearray()
        self._scan = 0  # scan position inside _buf
        self._depth = 0  # 0: before '[', 1: inside the top array, >1: inside an element
        self._in_string = False
        self._escape = False
        self._start = -1  # start of the current element in _buf
        self._closed = False
        self._dropping = False

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        if not chunk or self._closed:
            if chunk and chunk.strip():
                self._note("bytes after the closing bracket")
            return out
        self._buf += chunk
        buf = self._buf
        pos = self._scan
        n = len(buf)
        while pos < n:
            if self._in_string:
                if self._escape:
                    self._escape = False
                    pos += 1
                    continue
                m = _IN_STRING.search(buf, pos)
                if m is None:
                    pos = n
                    break
                pos = m.end()
                if m.group() == b"\\":
                    self._escape = True
                else:
                    self._in_string = False
                continue
            m = _STRUCT.search(buf, pos)
            if self._depth == 0:
                head = bytes(buf[pos : m.start() if m else n])
                if head.strip() or (m is not None and m.group() != b"["):
                    self._note("JSON array stream does not start with '['")
                    self._closed = True
                    break
            if m is None:
                pos = n
                break
            ch = m.group()
            pos = m.end()
            if ch == b'"':
                self._in_string = True
            elif ch in b"[{":
                if self._depth == 1:
                    self._start = m.start()
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 1 and self._start >= 0:
                    if not self._dropping:
                        out.append(bytes(buf[self._start : pos]))
                    self._dropping = False
                    self.elements_seen += 1
                    self._start = -1
                elif self._depth <= 0:
                    self._closed = True
                    pos = n
                    break
        # Keep only the current element (or nothing) to bound memory.
        keep_from = pos
        if self._start >= 0:
            keep_from = self._start
            if pos - self._start > self.max_element:
                if not self._dropping:
                    self._note(f"JSON array element larger than {self.max_element} bytes dropped")
                self._dropping = True
                keep_from = self._start = pos  # the element goes on, its bytes are not kept
        del buf[:keep_from]
        self._scan = pos - keep_from
        if self._start >= 0:
            self._start -= keep_from
        return out

    def finish(self) -> list[bytes]:
        if not self._closed and (self._depth > 0 or self._buf.strip()):
            self._note("JSON array stream ended before its closing bracket")
        self._buf.clear()
        return []

    def _note(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)


class NdjsonFramer:
    """One JSON value per line; blank lines skipped; lines over ``max_element`` dropped."""

    def __init__(self, *, max_element: int = DEFAULT_MAX_ELEMENT) -> None:
        self.max_element = max_element
        self.errors: list[str] = []
        self.elements_seen = 0
        self._buf = bytearray()
        self._dropping = False
        self._scan_from = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        self._buf += chunk
        start = self._scan_from
        while True:
            idx = self._buf.find(b"\n", start)
            start = 0
            if idx < 0:
                break
            line = bytes(self._buf[:idx]).strip()
            del self._buf[: idx + 1]
            if self._dropping:
                self._dropping = False
                continue
            if line:
                self.elements_seen += 1
                out.append(line)
        if len(self._buf) > self.max_element:
            if not self._dropping:
                self.errors.append(f"NDJSON line larger than {self.max_element} bytes dropped")
            self._dropping = True
            self._buf.clear()
        self._scan_from = len(self._buf)
        return out

    def finish(self) -> list[bytes]:
        line = bytes(self._buf).strip()
        self._buf.clear()
        if line and not self._dropping:
            self.elements_seen += 1
            return [line]
        return []
