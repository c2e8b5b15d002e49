"""PATHs into request and reply bodies: ``--prompt-at``, ``--text-at``, ``--usage-at``.

A PATH is dot-separated. In a JSON body each part is an object key or a list index (a negative
index counts from the end: ``messages.-1.content``). In a protobuf message each part is a field
number, and a repeated field means its last occurrence (``1.1.1``: the text of the last
conversation message). Protobuf messages are read and written in the capture's stored projection
(:mod:`provenance.extract.pbwire`), so one path means the same thing live and stored.

:func:`get_path` returns ``MISSING`` where nothing is; :func:`set_path` returns a new document
and raises :class:`PathError` (one line) for a path that does not exist.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from provenance.errors import UsageError


class _Missing:
    """Nothing at that path (distinct from a stored ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class PathError(UsageError):
    """A PATH that is malformed or leads nowhere; ``str()`` is the one-line reason."""


def parse_path(text: str) -> tuple[str, ...]:
    """The parts of ``text``; :class:`PathError` for an empty path or an empty part."""
    parts = tuple(text.strip().split("."))
    if not text.strip() or any(not p for p in parts):
        raise PathError(f"bad PATH {text!r}: use dot-separated keys, indices or field numbers")
    return parts


def _index(part: str, size: int) -> int | None:
    try:
        i = int(part)
    except ValueError:
        return None
    i = i + size if i < 0 else i
    return i if 0 <= i < size else None


def get_path(doc: Any, path: str | tuple[str, ...], *, protobuf: bool = False) -> Any:
    """The value at ``path`` in ``doc`` (a JSON document or a protobuf projection), or MISSING."""
    parts = parse_path(path) if isinstance(path, str) else path
    if protobuf:
        from provenance.extract import pbwire

        try:
            return pbwire.get_path(doc, ".".join(parts))
        except (ValueError, TypeError, KeyError, IndexError):
            return MISSING
    node = doc
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                return MISSING
            node = node[part]
        elif isinstance(node, list):
            i = _index(part, len(node))
            if i is None:
                return MISSING
            node = node[i]
        else:
            return MISSING
    return node


def set_path(doc: Any, path: str | tuple[str, ...], value: Any, *, protobuf: bool = False) -> Any:
    """A copy of ``doc`` with ``value`` at ``path``; :class:`PathError` if it leads nowhere."""
    parts = parse_path(path) if isinstance(path, str) else path
    shown = ".".join(parts)
    if protobuf:
        from provenance.extract import pbwire

        try:
            return pbwire.set_path(doc, shown, value)
        except (ValueError, TypeError, KeyError, IndexError):
            raise PathError(f"no field at {shown} in the stored message") from None
    out = copy.deepcopy(doc)
    node = out
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        if isinstance(node, dict):
            if part not in node:
                raise PathError(f"no key {part!r} at {'.'.join(parts[:n]) or 'the top'}")
            if last:
                node[part] = value
            else:
                node = node[part]
        elif isinstance(node, list):
            i = _index(part, len(node))
            if i is None:
                raise PathError(f"no index {part} in the list at {'.'.join(parts[:n]) or 'top'}")
            if last:
                node[i] = value
            else:
                node = node[i]
        else:
            raise PathError(f"{'.'.join(parts[:n])} is not an object or a list")
    return out


def leaves(doc: Any, prefix: str = "", *, protobuf: bool = False) -> Iterator[tuple[str, Any]]:
    """Every ``(path, value)`` leaf of ``doc`` (strings, numbers), in document order.

    In a protobuf projection a repeated field's occurrences are listed with their index
    (``1.1[2].1``) for reading, and the last one also under the plain path (what a PATH means);
    tagged scalars (``{"$fixed32": n}``) are leaves.
    """
    if isinstance(doc, dict):
        if protobuf and "$pad" in doc and "$value" in doc:  # a non-minimal varint's value
            yield from leaves(doc["$value"], prefix, protobuf=True)
            return
        if protobuf and len(doc) == 1 and next(iter(doc)).startswith("$"):
            key, value = next(iter(doc.items()))
            if key == "$fields" and isinstance(value, list):
                for item in value:
                    if isinstance(item, list) and len(item) == 2:
                        yield from leaves(item[1], f"{prefix}{item[0]}.", protobuf=True)
                return
            yield prefix.rstrip("."), value
            return
        for key, value in doc.items():
            yield from leaves(value, f"{prefix}{key}.", protobuf=protobuf)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            if protobuf:
                last = i == len(doc) - 1
                base = prefix.rstrip(".")
                yield from leaves(value, f"{base}.", protobuf=True) if last else ()
                if not last:
                    yield from leaves(value, f"{base}[{i}].", protobuf=True)
            else:
                yield from leaves(value, f"{prefix}{i}.", protobuf=False)
    else:
        yield prefix.rstrip("."), doc
