"""Schema-less protobuf walk: find strings (with field paths) and render a readable projection.

Wire format per https://protobuf.dev/programming-guides/encoding/: each field is a varint key
``(field_number << 3) | wire_type``; wire types 0 (varint), 1 (64-bit), 2 (length-delimited)
and 5 (32-bit) are accepted; groups (3, 4) and the unused types 6, 7 make a buffer invalid.

A length-delimited payload is one of string, nested message or bytes; without a schema we
decide heuristically (:func:`classify`): printable UTF-8 is a string, unless it starts with a
control character and also parses as a message (a message whose first field is field 1
length-delimited starts with ``\\n``); otherwise a payload that parses completely is a message;
otherwise bytes. Nesting is followed to ``max_depth`` (16) and the total number of fields
visited per walk is capped, so any input costs bounded time.

Field paths join field numbers with dots: ``5.1`` is field 1 of the message in field 5.

:func:`to_projection` is what capture stores of a message: readable, and lossless, so that
:func:`provenance.extract.pbwire.encode_projection` rebuilds the exact bytes for a replay.
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from provenance.extract.pbwire import string_value, varint_size

MAX_DEPTH = 16
MAX_FIELDS = 200_000
_WIRE_VARINT, _WIRE_I64, _WIRE_LEN, _WIRE_I32 = 0, 1, 2, 5


@dataclass(frozen=True, slots=True)
class Field:
    number: int
    wire_type: int
    value: int | bytes


class _Budget:
    def __init__(self, fields: int) -> None:
        self.left = fields
        self.exhausted = False

    def take(self, n: int) -> bool:
        self.left -= n
        if self.left < 0:
            self.exhausted = True
        return not self.exhausted


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def parse_fields(buf: bytes, *, max_fields: int = MAX_FIELDS) -> list[Field] | None:
    """Parse one message level; None if ``buf`` is not a well-formed message (or is empty)."""
    fields: list[Field] = []
    pos = 0
    n = len(buf)
    try:
        while pos < n:
            key, pos = _varint(buf, pos)
            number, wire = key >> 3, key & 7
            if number < 1 or number > 0x1FFFFFFF:
                return None
            if wire == _WIRE_VARINT:
                value, pos = _varint(buf, pos)
                fields.append(Field(number, wire, value))
            elif wire == _WIRE_I64:
                if pos + 8 > n:
                    return None
                fields.append(Field(number, wire, int.from_bytes(buf[pos : pos + 8], "little")))
                pos += 8
            elif wire == _WIRE_I32:
                if pos + 4 > n:
                    return None
                fields.append(Field(number, wire, int.from_bytes(buf[pos : pos + 4], "little")))
                pos += 4
            elif wire == _WIRE_LEN:
                length, pos = _varint(buf, pos)
                if pos + length > n:
                    return None
                fields.append(Field(number, wire, buf[pos : pos + length]))
                pos += length
            else:
                return None  # groups (3, 4) are rejected; 6 and 7 do not exist
            if len(fields) > max_fields:
                return None
    except ValueError:
        return None
    return fields or None


def _printable_text(buf: bytes) -> str | None:
    """``buf`` as text when it is UTF-8 without control characters (tab, LF, CR allowed).
    Format characters and other spaces (U+200D, U+00A0, U+2028 …) are text people type: a
    prompt holding one is still shown, searched and redacted as text, not as base64 bytes."""
    try:
        text = buf.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    if text.isprintable() or all(ch in "\t\n\r" or unicodedata.category(ch) != "Cc" for ch in text):
        return text
    return None


def classify(buf: bytes, *, max_fields: int = MAX_FIELDS) -> tuple[str, object]:
    """Decide what a length-delimited payload is: ``("string", str)``, ``("message",
    list[Field])`` or ``("bytes", bytes)``. Empty payloads are the empty string."""
    if not buf:
        return "string", ""
    text = _printable_text(buf)
    if text is not None and text[0] not in "\t\n\r":
        return "string", text
    fields = parse_fields(buf, max_fields=max_fields)
    if fields is not None:
        return "message", fields
    if text is not None:
        return "string", text
    return "bytes", buf


def iter_strings(
    buf: bytes, *, max_depth: int = MAX_DEPTH, max_fields: int = MAX_FIELDS
) -> Iterator[tuple[str, str]]:
    """Yield ``(field_path, text)`` for every string field at any depth up to ``max_depth``.

    A payload that is both printable text and a valid message (``"\t000000000`` is also field
    4 = "000000000") yields the text and is walked as a message too, so an id is found either
    way; callers filter what they need. Yields nothing for an invalid message.
    """
    fields = parse_fields(buf, max_fields=max_fields)
    if fields is None:
        return
    yield from _walk(fields, "", 1, max_depth, _Budget(max_fields))


def _walk(
    fields: list[Field], prefix: str, depth: int, max_depth: int, budget: _Budget
) -> Iterator[tuple[str, str]]:
    if not budget.take(len(fields)):
        return
    for f in fields:
        if f.wire_type != _WIRE_LEN:
            continue
        assert isinstance(f.value, bytes)
        path = f"{prefix}{f.number}"
        text = _printable_text(f.value)
        if text is not None:
            yield path, text
        if depth >= max_depth:
            continue
        nested = parse_fields(f.value, max_fields=budget.left) if len(f.value) >= 2 else None
        if nested is not None:
            yield from _walk(nested, path + ".", depth + 1, max_depth, budget)


def is_message(buf: bytes) -> bool:
    """True when ``buf`` parses completely as a protobuf message."""
    return parse_fields(buf) is not None


def to_projection(buf: bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """A lossless JSON-compatible projection: ``{"5": {"1": "accounts/..."}}``.

    Varints stay ints, strings strings, nested messages dicts; a repeated field is a list;
    bytes are ``"base64:..."``. What else the wire needs in order to be rebuilt exactly takes a
    ``$`` form (:mod:`provenance.extract.pbwire`, whose :func:`~provenance.extract.pbwire.
    encode_projection` is the inverse): ``{"$fixed32": n}`` / ``{"$fixed64": n}``, ``{"$string":
    "base64:..."}`` for text that starts like bytes, ``{"$fields": [["1", v], ["2", v], ["1",
    v]]}`` for a message whose field numbers interleave, ``{"$pad": [k, v], "$value": x}`` for a
    field written with non-minimal varints. Past ``max_depth`` or the field budget a payload is
    not parsed: it is its text (or base64 bytes), which encodes to the same bytes. An invalid
    message projects to ``{"$invalid": "base64:..."}``, the empty one to ``{}``."""
    fields = parse_fields(buf)
    if fields is None:
        return {"$invalid": _b64(buf)} if buf else {}
    return _project(buf, fields, 1, max_depth, _Budget(MAX_FIELDS))


def _project(buf: bytes, fields: list[Field], depth: int, max_depth: int, budget: _Budget) -> dict:
    budget.take(len(fields))
    pads = _pads(buf, fields) if _wire_size(fields) != len(buf) else None
    pairs: list[tuple[str, object]] = []
    for i, f in enumerate(fields):
        value: object
        if isinstance(f.value, int):
            value = f.value
            if f.wire_type == _WIRE_I32:
                value = {"$fixed32": f.value}
            elif f.wire_type == _WIRE_I64:
                value = {"$fixed64": f.value}
        elif depth >= max_depth or budget.exhausted:
            text = _printable_text(f.value)
            value = string_value(text) if text is not None else _b64(f.value)
        else:
            kind, parsed = classify(f.value, max_fields=max(budget.left, 1))
            if kind == "message":
                value = _project(f.value, parsed, depth + 1, max_depth, budget)  # type: ignore[arg-type]
            elif kind == "string":
                value = string_value(parsed)  # type: ignore[arg-type]
            else:
                value = _b64(f.value)
        if pads and pads[i]:
            value = {"$pad": pads[i], "$value": value}
        pairs.append((str(f.number), value))
    return _group(pairs)


def _group(pairs: list[tuple[str, object]]) -> dict:
    """Fields by number, a repeated one as a list; ``$fields`` when numbers interleave."""
    out: dict[str, object] = {}
    prev = None
    for key, value in pairs:
        if key not in out:
            out[key] = value
        elif key != prev:
            return {"$fields": [[k, v] for k, v in pairs]}
        elif isinstance(out[key], list):
            out[key].append(value)  # type: ignore[union-attr]
        else:
            out[key] = [out[key], value]
        prev = key
    return out


def _wire_size(fields: list[Field]) -> int:
    """Bytes ``fields`` take with minimal varints (the buffer's length unless some are not)."""
    total = 0
    for f in fields:
        value = f.value
        total += ((f.number << 3).bit_length() + 6) // 7  # a key is never 0
        if f.wire_type == _WIRE_LEN:
            n = len(value)  # type: ignore[arg-type]
            total += n + (n.bit_length() + 6) // 7 + (not n)
        elif f.wire_type == _WIRE_VARINT:
            total += (value.bit_length() + 6) // 7 + (not value)  # type: ignore[union-attr]
        else:
            total += 8 if f.wire_type == _WIRE_I64 else 4
    return total


def _pads(buf: bytes, fields: list[Field]) -> list[list[int] | None]:
    """Per field, ``[key width, value/length width]`` where one of its varints is wider than
    minimal (the ``$pad`` form), else None. ``fields`` are ``parse_fields(buf)``."""
    out: list[list[int] | None] = []
    pos = 0
    for f in fields:
        start = pos
        pos = _varint(buf, pos)[1]
        key_width = pos - start
        padded = key_width > varint_size(f.number << 3 | f.wire_type)
        size_width = 0
        if f.wire_type in (_WIRE_VARINT, _WIRE_LEN):
            start = pos
            n, pos = _varint(buf, pos)
            size_width = pos - start
            padded = padded or size_width > varint_size(n)
            if f.wire_type == _WIRE_LEN:
                pos += n
        else:
            pos += 8 if f.wire_type == _WIRE_I64 else 4
        out.append([key_width, size_width] if padded else None)
    return out


def _b64(buf: bytes) -> str:
    return "base64:" + base64.b64encode(buf).decode("ascii")


def render(buf: bytes, *, max_depth: int = MAX_DEPTH) -> str:
    """Compact one-line text form of :func:`to_projection` (JSON, non-ASCII kept)."""
    return json.dumps(to_projection(buf, max_depth=max_depth), ensure_ascii=False)
