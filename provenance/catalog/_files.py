"""Reading and validating the catalog's JSON files under ``fingerprints/``.

Every problem becomes a :class:`~provenance.errors.CatalogError` whose message names the file and
the entry (``models.json: families[12] (kimi-k2.5): pattern does not compile: ...``), so that a
bad edit is found at load time, never half-way through a capture.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from provenance.errors import CatalogError

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$|^[a-z0-9]$")
SOURCE_PREFIXES = ("https://", "traffic: ")


def fail(filename: str, where: str, problem: str) -> CatalogError:
    """A CatalogError naming the file and the entry, with what to do about it."""
    return CatalogError(
        f"{filename}: {where}: {problem} (fix the entry, or restore the file from the release)"
    )


def read_document(path: Path, schema: str) -> dict[str, Any]:
    """Parse ``path`` as a JSON object whose ``schema`` is exactly ``schema``."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(
            f"{name}: cannot read {path} ({exc.strerror}); reinstall provenance"
        ) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(name, f"line {exc.lineno}", f"invalid JSON ({exc.msg})") from exc
    if not isinstance(doc, dict):
        raise fail(name, "top level", "must be a JSON object")
    if doc.get("schema") != schema:
        raise fail(name, "schema", f"expected {schema!r}, found {doc.get('schema')!r}")
    return doc


def need(obj: Any, key: str, kind: type, filename: str, where: str) -> Any:
    """``obj[key]``, which must exist and be of ``kind`` (a non-empty string for ``str``)."""
    if not isinstance(obj, dict):
        raise fail(filename, where, "must be a JSON object")
    if key not in obj:
        raise fail(filename, where, f"missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise fail(filename, where, f"{key!r} must be a {kind.__name__}")
    if kind is str and not value.strip():
        raise fail(filename, where, f"{key!r} must not be empty")
    return value


def check_source(entry: dict[str, Any], filename: str, where: str) -> str:
    """The entry's ``source``: a URL (``https://``) or a ``traffic: `` note."""
    source = need(entry, "source", str, filename, where)
    if not source.startswith(SOURCE_PREFIXES):
        raise fail(filename, where, "source must start with 'https://' or 'traffic: '")
    return source


def check_slug(value: str, filename: str, where: str, what: str) -> str:
    """A lowercase slug: letters, digits, '-' and '.'."""
    if not SLUG_RE.match(value):
        raise fail(filename, where, f"{what} {value!r} is not a lowercase slug")
    return value


def compile_regex(pattern: str, flags: int, filename: str, where: str) -> re.Pattern[str]:
    """Compile ``pattern`` or fail naming the entry."""
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise fail(filename, where, f"pattern does not compile: {exc}") from exc


def check_string_list(
    entry: dict[str, Any], key: str, filename: str, where: str
) -> tuple[str, ...]:
    """An optional list of non-empty strings (absent: empty tuple)."""
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(filename, where, f"{key!r} must be a list of non-empty strings")
    return tuple(value)


def read_named_table(doc: dict[str, Any], key: str, filename: str) -> dict[str, dict[str, str]]:
    """A ``{slug: {"name": ..., "source": ...}}`` table (providers, vendors, products)."""
    table = doc.get(key)
    if not isinstance(table, dict) or not table:
        raise fail(filename, key, "must be a non-empty JSON object")
    out: dict[str, dict[str, str]] = {}
    for slug, info in table.items():
        where = f"{key}.{slug}"
        check_slug(slug, filename, where, "slug")
        out[slug] = {
            "name": need(info, "name", str, filename, where),
            "source": check_source(info, filename, where),
        }
    return out
