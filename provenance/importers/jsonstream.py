"""Stream the elements of one array inside a large JSON document, with bounded memory.

:func:`iter_array_items` yields the items of the array found at a key path (e.g. ``("log",
"entries")`` in a HAR file), parsed one at a time with :mod:`json`; the rest of the document is
skipped by a resumable scanner that never holds more than the current item (plus one read chunk)
in memory. Raises :class:`JsonStreamError` for malformed or truncated input, after every item
before the fault has been yielded.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import IO, Any

_STRUCT = re.compile(r'[{}\[\]",:]')
_IN_STRING = re.compile(r'["\\]')
_NON_WS = re.compile(r"\S")
_SCALAR_END = re.compile(r"[,\]\s]")
_DECODER = json.JSONDecoder()


class JsonStreamError(ValueError):
    """The document is not valid JSON (or ends early) where the scanner looked."""


class _Buffer:
    """Decoded text read in chunks; positions are absolute, the consumed prefix is dropped."""

    def __init__(self, fileobj: IO[bytes], chunk_size: int) -> None:
        self.fileobj = fileobj
        self.chunk_size = chunk_size
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        self.text = ""
        self.base = 0  # absolute offset of text[0]
        self.eof = False
        self.bytes_read = 0

    def more(self) -> bool:
        """Read one more chunk; False at end of file."""
        if self.eof:
            return False
        data = self.fileobj.read(self.chunk_size)
        self.bytes_read += len(data)
        try:
            self.text += self.decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise JsonStreamError("the file is not UTF-8 text") from None
        if not data:
            self.eof = True
        return True

    def drop_before(self, pos: int) -> None:
        cut = pos - self.base
        if cut > 0:
            self.text = self.text[cut:]
            self.base = pos

    def search(self, pattern: re.Pattern[str], pos: int) -> re.Match[str] | None:
        return pattern.search(self.text, pos - self.base)

    def char(self, pos: int) -> str:
        return self.text[pos - self.base]

    def end(self) -> int:
        return self.base + len(self.text)


def _skip_string(buf: _Buffer, pos: int) -> int:
    """``pos`` is just after an opening quote; return the position after the closing quote."""
    while True:
        m = buf.search(_IN_STRING, pos)
        if m is None:
            pos = buf.end()
            if not buf.more():
                raise JsonStreamError("the file ends inside a string")
            continue
        at = buf.base + m.start()
        if m.group() == '"':
            return at + 1
        if at + 1 >= buf.end() and not buf.more():  # a backslash: skip the escaped character
            raise JsonStreamError("the file ends inside a string")
        if at + 1 >= buf.end():
            pos = at
            continue
        pos = at + 2


def _next_token(buf: _Buffer, pos: int) -> tuple[str, int]:
    """The next structural character at or after ``pos`` and its position."""
    while True:
        m = buf.search(_STRUCT, pos)
        if m is not None:
            return m.group(), buf.base + m.start()
        pos = buf.end()
        if not buf.more():
            return "", pos


def _item_end(buf: _Buffer, pos: int) -> int:
    """``pos`` is at ``{`` or ``[``; return the position just after the matching close."""
    depth = 0
    while True:
        tok, at = _next_token(buf, pos)
        if tok == "":
            raise JsonStreamError("the file ends inside an array item")
        if tok == '"':
            pos = _skip_string(buf, at + 1)
            continue
        pos = at + 1
        if tok in "{[":
            depth += 1
        elif tok in "}]":
            depth -= 1
            if depth == 0:
                return pos


def _scalar_end(buf: _Buffer, pos: int) -> int:
    """End of a number/true/false/null starting at ``pos``."""
    while True:
        m = _SCALAR_END.search(buf.text, pos - buf.base)
        if m is not None:
            return buf.base + m.start()
        if not buf.more():
            return buf.end()


def iter_array_items(
    fileobj: IO[bytes], path: tuple[str, ...], *, chunk_size: int = 1 << 16
) -> Iterator[Any]:
    """Yield each item of the JSON array at ``path`` (object keys from the top level).

    Memory: the current item plus one chunk. Raises :class:`JsonStreamError` when the document is
    malformed or truncated, or has no array at ``path``.
    """
    buf = _Buffer(fileobj, chunk_size)
    reader = _Reader(buf, path)
    yield from reader.run()


class _Reader:
    def __init__(self, buf: _Buffer, path: tuple[str, ...]) -> None:
        self.buf = buf
        self.path = path
        self.found = False

    def run(self) -> Iterator[Any]:
        buf = self.buf
        # stack of [kind, key path, expecting-key]; the top level is outside any container.
        stack: list[list[Any]] = []
        pending_key: str | None = None
        pos = 0
        while True:
            buf.drop_before(pos)
            tok, at = _next_token(buf, pos)
            if tok == "":
                break
            pos = at + 1
            if tok == '"':
                end = _skip_string(buf, pos)
                if stack and stack[-1][0] == "obj" and stack[-1][2]:
                    try:
                        pending_key = json.loads(buf.text[at - buf.base : end - buf.base])
                    except ValueError:
                        raise JsonStreamError("malformed object key") from None
                pos = end
            elif tok == ":":
                if not stack or stack[-1][0] != "obj":
                    raise JsonStreamError("unexpected ':'")
                stack[-1][2] = False
            elif tok == ",":
                if stack and stack[-1][0] == "obj":
                    stack[-1][2] = True
            elif tok in "{[":
                parent: tuple[str, ...] = stack[-1][1] if stack else ()
                if stack and stack[-1][0] == "obj":
                    key_path = (*parent, pending_key or "")
                elif stack:
                    key_path = (*parent, "*")
                else:
                    key_path = ()
                if tok == "[" and key_path == self.path:
                    self.found = True
                    yield from self._items(pos)
                    return
                stack.append(["obj" if tok == "{" else "arr", key_path, tok == "{"])
            elif tok in "}]":
                if not stack:
                    raise JsonStreamError(f"unexpected '{tok}'")
                stack.pop()
        raise JsonStreamError("no " + ".".join(self.path) + " array found")

    def _items(self, pos: int) -> Iterator[Any]:
        buf = self.buf
        expect_item = True
        while True:
            buf.drop_before(pos)
            while True:
                m = buf.search(_NON_WS, pos)
                if m is not None:
                    pos = buf.base + m.start()
                    break
                pos = buf.end()
                if not buf.more():
                    raise JsonStreamError("the file ends inside the array")
            ch = buf.char(pos)
            if ch == "]":
                return
            if ch == ",":
                if expect_item:
                    raise JsonStreamError("unexpected ',' in the array")
                expect_item = True
                pos += 1
                continue
            if not expect_item:
                raise JsonStreamError("missing ',' between array items")
            if ch in "{[":
                # Fast path: the whole item is already in the buffer, parsed by json's C scanner
                # in one call. Anything else (cut by the chunk's end, or malformed) takes the
                # scanner below, which reads on and reports errors exactly as before.
                try:
                    item, end_rel = _DECODER.raw_decode(buf.text, pos - buf.base)
                except ValueError:
                    pass
                else:
                    pos = buf.base + end_rel
                    expect_item = False
                    yield item
                    continue
                end = _item_end(buf, pos)
            elif ch == '"':
                end = _skip_string(buf, pos + 1)
            else:
                end = _scalar_end(buf, pos)
            text = buf.text[pos - buf.base : end - buf.base]
            try:
                item = json.loads(text)
            except ValueError:
                raise JsonStreamError("an array item is not valid JSON") from None
            pos = end
            expect_item = False
            yield item
