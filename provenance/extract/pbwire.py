"""The stored protobuf projection, back to wire bytes; reading and changing it by field path.

:func:`provenance.extract.protobuf.to_projection` stores each captured protobuf message as a
JSON projection that reads like the message and loses nothing, so a replay can rebuild the
exact bytes (:func:`encode_projection` is its inverse). Its forms:

=============  ====================================================  ===========================
form           projection                                            on the wire
=============  ====================================================  ===========================
message        ``{"1": 150, "2": "hi", "3": {"1": 1}, "4": [1, 1]}``  fields in key order; a list
                                                                     is a repeated field, its
                                                                     occurrences side by side
interleaved    ``{"$fields": [["1", 1], ["2", "hi"], ["1", 2]]}``     a message whose field
                                                                     numbers recur after another
                                                                     one: every field in wire
                                                                     order, one pair each
varint         ``150`` (an int; a negative one is written as 64-bit   wire type 0
               two's complement)
fixed-width    ``{"$fixed32": n}``, ``{"$fixed64": n}`` (unsigned)    wire types 5 and 1
string         ``"hi"``; ``{"$string": "base64:…"}`` for text that     UTF-8, length-delimited
               itself starts with ``base64:`` (:func:`string_value`)
bytes          ``"base64:<standard base64>"``                         length-delimited
padded         ``{"$pad": [k, v], "$value": x}``: ``x`` with its key   what a single-pass encoder
               varint at least ``k`` bytes wide and its value varint  writes (a length reserved
               (wire type 0) or length varint (type 2) at least ``v``  before the payload); ``v`` is
               wide (0 for fixed-width)                              0 for fixed-width values
invalid        ``{"$invalid": "base64:…"}``, top level only           the bytes as they were
=============  ====================================================  ===========================

A nested message is a length-delimited value too, so a field's value may be a string where the
capture held a message or bytes (a redacted placeholder such as ``[REDACTED:cursor-byok-key]``,
or a prompt set by a replay): every length is recomputed on encoding, and ``$pad`` widths are
minimums, so a longer value still encodes. A ``base64:`` string whose rest is not canonical
base64 (a redaction landed inside it) is text. Nothing here reads protobuf; it only writes it.

A *path* is dot-separated field numbers (``5.1``: field 1 of the message in field 5), as the
capture's observations name them; a repeated field means its last occurrence.
"""

from __future__ import annotations

import base64
import binascii
import re

BASE64 = "base64:"
MAX_NESTING = 100
_NUMBER = re.compile(r"^[1-9][0-9]{0,8}$")
_MAX_NUMBER = (1 << 29) - 1
_U64 = 1 << 64
_VARINT_LIMIT = 1 << 70  # ten 7-bit groups: the widest varint the capture's parser reads
_FIXED = {"$fixed32": (5, 4), "$fixed64": (1, 8)}


def varint_size(n: int) -> int:
    """Bytes in the minimal varint encoding of ``n >= 0``."""
    return max(1, (n.bit_length() + 6) // 7)


def string_value(text: str) -> str | dict[str, str]:
    """The projection of a text value: ``text`` itself, or ``{"$string": text}`` when a bare
    string would read as bytes (it starts with ``base64:``)."""
    return {"$string": text} if text.startswith(BASE64) else text


def encode_projection(obj: object) -> bytes:
    """The wire bytes of a projection (module docstring): the exact inverse of
    :func:`~provenance.extract.protobuf.to_projection`, also after a JSON round trip.

    Raises ``ValueError`` (one line) for anything that is not a projection.
    """
    if isinstance(obj, dict) and set(obj) == {"$invalid"}:
        raw = _bytes(obj["$invalid"])
        if raw is None:
            raise ValueError("$invalid holds no base64: bytes")
        return raw
    out = bytearray()
    _message(obj, out, 0)
    return bytes(out)


def get_path(obj: object, path: str) -> object:
    """The value at ``path`` (a repeated field: its last occurrence), as the projection holds
    it with any ``$pad`` wrapper removed: an int, a str, a message, or a ``$fixed32``,
    ``$fixed64`` or ``$string`` form. Raises ``ValueError`` when there is no such field."""
    value = obj
    parts = _parts(path)
    for i, key in enumerate(parts):
        value = _unpad(_last(value, key, path, parts[:i]))
    return value


def set_path(obj: object, path: str, value: object) -> object:
    """A copy of ``obj`` with the field at ``path`` (a repeated field: its last occurrence)
    set to ``value``, a projection value (:func:`string_value` for arbitrary text). Any
    ``$pad`` of the old field is kept; any value may replace any other (a string in place of a
    message is a length-delimited string). ``obj`` is not changed; parts off the path are
    shared. Raises ``ValueError`` when there is no such field or ``value`` cannot be encoded."""
    parts = _parts(path)
    _field(1, value, bytearray(), 0)  # a value that cannot be encoded fails here, not later
    return _set(obj, parts, 0, value, path)


def _set(msg: object, parts: list[str], i: int, value: object, path: str) -> object:
    old = _last(msg, parts[i], path, parts[:i])
    new = value if i == len(parts) - 1 else _set(_unpad(old), parts, i + 1, value, path)
    if _is_pad(old):
        new = {"$pad": old["$pad"], "$value": new}  # type: ignore[index]
    return _replace_last(msg, parts[i], new)


def _parts(path: str) -> list[str]:
    parts = path.split(".") if isinstance(path, str) else []
    if not parts or not all(_NUMBER.match(p) for p in parts):
        raise ValueError(f"not a field path: {path!r} (want dot-separated field numbers)")
    return parts


def _is_message(obj: object) -> bool:
    if not isinstance(obj, dict):
        return False
    if set(obj) == {"$fields"}:
        return isinstance(obj["$fields"], list)
    return all(isinstance(k, str) and _NUMBER.match(k) for k in obj)


def _is_pad(obj: object) -> bool:
    return isinstance(obj, dict) and set(obj) == {"$pad", "$value"}


def _unpad(obj: object) -> object:
    return obj["$value"] if _is_pad(obj) else obj  # type: ignore[index]


def _last(msg: object, key: str, path: str, above: list[str]) -> object:
    """The last occurrence of field ``key`` in message ``msg``, else ``ValueError``."""
    where = ".".join(above) or "the top level"
    if not _is_message(msg):
        raise ValueError(f"no field {path}: {where} is not a message")
    assert isinstance(msg, dict)
    if "$fields" in msg:
        found = [p[1] for p in msg["$fields"] if isinstance(p, list) and p[:1] == [key]]
        if found:
            return found[-1]
    elif key in msg:
        value = msg[key]
        if not isinstance(value, list):
            return value
        if value:
            return value[-1]
    raise ValueError(f"no field {path}: {where} has no field {key}")


def _replace_last(msg: object, key: str, new: object) -> dict:
    assert isinstance(msg, dict)
    if "$fields" in msg:
        pairs = list(msg["$fields"])
        at = max(i for i, p in enumerate(pairs) if isinstance(p, list) and p[:1] == [key])
        pairs[at] = [key, new]
        return {"$fields": pairs}
    out = dict(msg)
    old = out[key]
    out[key] = [*old[:-1], new] if isinstance(old, list) else new
    return out


def _message(obj: object, out: bytearray, depth: int) -> None:
    if depth > MAX_NESTING:
        raise ValueError(f"projection nested deeper than {MAX_NESTING} messages")
    if not _is_message(obj):
        raise ValueError(f"not a message projection: {_brief(obj)}")
    assert isinstance(obj, dict)
    if "$fields" in obj:
        for pair in obj["$fields"]:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise ValueError(f"$fields holds [number, value] pairs, not {_brief(pair)}")
            _field(_number(pair[0]), pair[1], out, depth)
        return
    for key, value in obj.items():
        number = _number(key)
        for item in value if isinstance(value, list) else (value,):
            _field(number, item, out, depth)


def _number(key: str) -> int:
    if not (isinstance(key, str) and _NUMBER.match(key)) or int(key) > _MAX_NUMBER:
        raise ValueError(f"not a field number: {_brief(key)}")
    return int(key)


def _field(number: int, value: object, out: bytearray, depth: int) -> None:
    """Append one field (key and value) to ``out``."""
    key_width = size_width = 0
    if _is_pad(value):
        assert isinstance(value, dict)
        key_width, size_width = _widths(value["$pad"])
        value = value["$value"]
    if isinstance(value, bool) or not isinstance(value, (int, str, dict)):
        raise ValueError(f"not a projection value: {_brief(value)}")
    if isinstance(value, int):
        _varint(number << 3, out, key_width)
        _varint(_unsigned(value, 64, _VARINT_LIMIT), out, size_width)
        return
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _FIXED:
        name, n = next(iter(value.items()))
        wire, size = _FIXED[name]
        if isinstance(n, bool) or not isinstance(n, int):
            raise ValueError(f"{name} holds an int, not {_brief(n)}")
        _varint(number << 3 | wire, out, key_width)
        out += _unsigned(n, size * 8, 1 << size * 8).to_bytes(size, "little")
        return
    payload = _payload(value, depth)
    _varint(number << 3 | 2, out, key_width)
    _varint(len(payload), out, size_width)
    out += payload


def _payload(value: str | dict, depth: int) -> bytes:
    """A length-delimited value's bytes: text, bytes or a nested message."""
    if isinstance(value, str):
        raw = _bytes(value)
        return raw if raw is not None else value.encode("utf-8")
    if set(value) == {"$string"}:
        if not isinstance(value["$string"], str):
            raise ValueError(f"$string holds a str, not {_brief(value['$string'])}")
        return value["$string"].encode("utf-8")
    nested = bytearray()
    _message(value, nested, depth + 1)
    return bytes(nested)


def _bytes(text: object) -> bytes | None:
    """The bytes a ``base64:…`` string stands for; None for any other string (text)."""
    if not isinstance(text, str) or not text.startswith(BASE64):
        return None
    b64 = text[len(BASE64) :]
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == b64 else None


def _widths(pad: object) -> tuple[int, int]:
    if (
        isinstance(pad, list)
        and len(pad) == 2
        and all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w <= 10 for w in pad)
    ):
        return pad[0], pad[1]
    raise ValueError(f"$pad holds [key width, value width] (0-10 each), not {_brief(pad)}")


def _unsigned(n: int, bits: int, limit: int) -> int:
    """``n`` as the wire holds it: a negative one as ``bits``-bit two's complement."""
    if -(1 << (bits - 1)) <= n < 0:
        return n + (1 << bits)
    if 0 <= n < limit:
        return n
    raise ValueError(f"number out of range for the wire: {n}")


def _varint(n: int, out: bytearray, width: int = 0) -> None:
    """Append ``n`` as a varint, padded to ``width`` bytes when that is wider than minimal."""
    for _ in range(max(width, varint_size(n)) - 1):
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
