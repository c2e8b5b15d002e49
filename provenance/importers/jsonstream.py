"""Stream the elements of one array inside a large JSON document, with bounded memory.

:func:`iter_array_items` yields the items of the array found at a key path (e.g. ``("log",
"entries")`` in a HAR file), parsed one at a time with :mod:`json`; the rest of the document is
skipped by a resumable scanner. Costs are linear in the input whatever its shape:

* text already scanned is dropped before each read, so whitespace or skipped values between
  items never accumulate;
* while one item is being collected, once 1 MiB is held each read is as large as what is held
  (the buffer at most doubles per read), so a huge item costs amortised linear time, not one
  copy of it per chunk;
* an item larger than ``max_item`` characters is scanned to its end without being kept and
  yielded as :class:`BadItem` (memory stays within ``max_item`` plus one read), as is an item
  that is balanced but not valid JSON (or nested too deeply for :mod:`json`): one bad item is
  reported and the rest of the array still read.

Raises :class:`JsonStreamError` for input whose structure is broken or truncated, after every
item before the fault has been yielded.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

_STRUCT = re.compile(r'[{}\[\]",:]')
_IN_STRING = re.compile(r'["\\]')
_NON_WS = re.compile(r"\S")
_SCALAR_END = re.compile(r"[,\]\s]")
_DECODER = json.JSONDecoder()
MAX_ITEM = 64 * 1024 * 1024  # characters of one item kept for parsing
_GROW_FROM = 1 << 20  # holding this much, read as much again (amortised linear appends)


class JsonStreamError(ValueError):
    """The document is not valid JSON (or ends early) where the scanner looked."""


@dataclass(frozen=True, slots=True)
class BadItem:
    """An array item that was skipped; ``reason`` says why (for a summary)."""

    reason: str
    size: int  # characters the item spans


def _amount(chars: int) -> str:
    return f"{chars // 2**20} MiB" if chars >= 2**20 else f"{chars} characters"


class _Buffer:
    """Decoded text read in chunks; positions are absolute.

    While scanning, nothing behind the reader's position is needed: each read drops it. While
    an item is collected (:meth:`collect`), the text from its start is kept, until it spans
    more than the cap: then it is dropped as before and :attr:`overflowed` says so.
    """

    def __init__(self, fileobj: IO[bytes], chunk_size: int) -> None:
        self.fileobj = fileobj
        self.chunk_size = chunk_size
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        self.text = ""
        self.base = 0  # absolute offset of text[0]
        self.keep = 0
        self.cap = 0
        self.follow = True  # keep nothing behind the reader's position
        self.overflowed = False
        self.eof = False
        self.bytes_read = 0

    def scan(self) -> None:
        """From now on keep nothing behind the reader's position."""
        self.follow = True

    def collect(self, start: int, cap: int) -> None:
        """From now on keep the text from ``start``, up to ``cap`` characters."""
        self.keep, self.cap, self.follow, self.overflowed = start, cap, False, False

    def more(self, at: int) -> bool:
        """Read one more chunk (``at``: the reader's position); False at end of file."""
        if self.eof:
            return False
        if not self.follow and self.end() - self.keep > self.cap:
            self.follow = self.overflowed = True
        self.drop_before(at if self.follow else self.keep)
        held = len(self.text)
        data = self.fileobj.read(max(self.chunk_size, held if held >= _GROW_FROM else 0))
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
            if not buf.more(pos):
                raise JsonStreamError("the file ends inside a string")
            continue
        at = buf.base + m.start()
        if m.group() == '"':
            return at + 1
        if at + 1 >= buf.end():  # a backslash at the end of the text: read on
            if not buf.more(at):
                raise JsonStreamError("the file ends inside a string")
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
        if not buf.more(pos):
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
        if not buf.more(pos):
            return buf.end()


def iter_array_items(
    fileobj: IO[bytes],
    path: tuple[str, ...],
    *,
    chunk_size: int = 1 << 16,
    max_item: int = MAX_ITEM,
) -> Iterator[Any]:
    """Yield each item of the JSON array at ``path`` (object keys from the top level), or a
    :class:`BadItem` for one that is too large or not valid JSON.

    Memory: at most ``max_item`` characters plus one read. Raises :class:`JsonStreamError` when
    the document's structure is malformed or truncated, or it has no array at ``path``.
    """
    buf = _Buffer(fileobj, chunk_size)
    reader = _Reader(buf, path, max_item)
    yield from reader.run()


class _Reader:
    def __init__(self, buf: _Buffer, path: tuple[str, ...], max_item: int) -> None:
        self.buf = buf
        self.path = path
        self.max_item = max_item
        self.found = False

    def run(self) -> Iterator[Any]:
        buf = self.buf
        # stack of [kind, key path, expecting-key]; the top level is outside any container.
        stack: list[list[Any]] = []
        pending_key: str | None = None
        pos = 0
        while True:
            buf.drop_before(pos)
            buf.scan()
            tok, at = _next_token(buf, pos)
            if tok == "":
                break
            pos = at + 1
            if tok == '"':
                is_key = bool(stack and stack[-1][0] == "obj" and stack[-1][2])
                if is_key:
                    buf.collect(at, self.max_item)
                end = _skip_string(buf, pos)
                if is_key:
                    pending_key = None
                    if not buf.overflowed:
                        try:
                            pending_key = json.loads(buf.text[at - buf.base : end - buf.base])
                        except (ValueError, RecursionError):
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
            buf.scan()
            while True:
                m = buf.search(_NON_WS, pos)
                if m is not None:
                    pos = buf.base + m.start()
                    break
                pos = buf.end()
                if not buf.more(pos):
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
            expect_item = False
            buf.collect(pos, self.max_item)
            if ch in "{[":
                # Fast path: the whole item is already in the buffer, parsed by json's C scanner
                # in one call. Anything else (cut by the chunk's end, or malformed) takes the
                # scanner below, which reads on and finds the item's extent.
                try:
                    item, end_rel = _DECODER.raw_decode(buf.text, pos - buf.base)
                except (ValueError, RecursionError):
                    pass
                else:
                    pos = buf.base + end_rel
                    yield item
                    continue
                end = _item_end(buf, pos)
            elif ch == '"':
                end = _skip_string(buf, pos + 1)
            else:
                end = _scalar_end(buf, pos)
            size, start = end - pos, pos
            pos = end
            if buf.overflowed or size > self.max_item:
                yield BadItem(f"array item larger than {_amount(self.max_item)}", size)
                continue
            text = buf.text[start - buf.base : end - buf.base]
            try:
                item = json.loads(text)
            except RecursionError:
                yield BadItem("array item nested too deeply", size)
                continue
            except ValueError:
                yield BadItem("array item is not valid JSON", size)
                continue
            yield item
