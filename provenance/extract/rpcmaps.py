"""Per-RPC protobuf knowledge as data: secret field paths and model enums / uids.

Two files under ``fingerprints/`` (each entry carries its source):

* ``protobuf_secrets.json``: ``(rpc glob, role, field path) → secret kind``; ``subtree``
  entries cover every value at or below the path. Values found there are redacted by kind
  before anything is stored, whatever they look like (pattern redaction still runs too).
* ``protobuf_models.json``: ``enum_fields`` (where a varint is a model enum), ``enums``
  (value → enum name → model) and ``uids`` (uid string → model).

An RPC is named by its URL path, ``/package.Service/Method`` (Connect, gRPC and gRPC-web all
use it). Globs are :mod:`fnmatch` patterns over that path. Loading never raises: a missing or
malformed file means "no entries" (the catalog validator reports bad data files), so capture
never stops over them. :func:`scan_rpc` walks one message and returns what the maps say.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from provenance.extract.protobuf import MAX_DEPTH, Field, _b64, classify, parse_fields

SECRETS_FILE = "protobuf_secrets.json"
MODELS_FILE = "protobuf_models.json"
_RPC = re.compile(r"^/([A-Za-z_][\w.]*\.[A-Za-z_]\w*)/([A-Za-z_]\w*)$")
_MAX_VALUES = 200


@dataclass(frozen=True, slots=True)
class SecretRule:
    rpcs: tuple[str, ...]
    role: str
    path: str
    kind: str
    subtree: bool = False


@dataclass(frozen=True, slots=True)
class EnumRule:
    rpcs: tuple[str, ...]
    role: str
    path: str
    enum: str


@dataclass(frozen=True, slots=True)
class RpcMaps:
    secrets: tuple[SecretRule, ...] = ()
    enum_fields: tuple[EnumRule, ...] = ()
    enums: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)
    uids: tuple[tuple[tuple[str, ...], str, str], ...] = ()  # (rpc globs, uid, model)


@dataclass(slots=True)
class RpcFindings:
    """``secrets``: ``(kind, value)`` with value as text (UTF-8 or ``base64:`` form as the
    projection shows bytes); ``secret_paths``: field paths whose strings are secret (not model
    ids); ``models``: ``(model, location)`` from enums and uids."""

    secrets: list[tuple[str, str]] = field(default_factory=list)
    secret_paths: set[str] = field(default_factory=set)
    models: list[tuple[str, str]] = field(default_factory=list)


@functools.lru_cache(maxsize=1024)  # one URL, many bodies and exchanges
def rpc_path(url_path: str | None) -> str | None:
    """``/package.Service/Method`` when ``url_path`` is an RPC path (query dropped)."""
    if not url_path:
        return None
    path = url_path.split("?", 1)[0]
    return path if _RPC.match(path) else None


def _globs(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _read(name: str) -> dict:
    from provenance.paths import read_data_file

    return read_data_file(name)


@functools.lru_cache(maxsize=1)
def load_maps() -> RpcMaps:
    """The shipped maps (cached). Never raises; malformed entries are skipped."""
    try:
        return _load()
    except Exception:
        return RpcMaps()


def _load() -> RpcMaps:
    secrets: list[SecretRule] = []
    for e in _read(SECRETS_FILE).get("secrets", []):
        if (
            isinstance(e, dict)
            and isinstance(e.get("path"), str)
            and isinstance(e.get("kind"), str)
        ):
            secrets.append(
                SecretRule(
                    _globs(e.get("rpc")),
                    str(e.get("role", "any")),
                    e["path"],
                    e["kind"],
                    bool(e.get("subtree", False)),
                )
            )
    models = _read(MODELS_FILE)
    enum_fields = [
        EnumRule(_globs(e.get("rpc")), str(e.get("role", "any")), e["path"], e["enum"])
        for e in models.get("enum_fields", [])
        if isinstance(e, dict) and isinstance(e.get("path"), str) and isinstance(e.get("enum"), str)
    ]
    enums: dict[str, dict[int, tuple[str, str]]] = {}
    for enum_name, entries in (models.get("enums") or {}).items():
        table = enums.setdefault(enum_name, {})
        for e in entries if isinstance(entries, list) else []:
            if (
                isinstance(e, dict)
                and isinstance(e.get("value"), int)
                and isinstance(e.get("model"), str)
            ):
                table[e["value"]] = (str(e.get("name", "")), e["model"])
    uids = tuple(
        (_globs(e.get("rpc", "*")), e["uid"], e["model"])
        for e in models.get("uids", [])
        if isinstance(e, dict) and isinstance(e.get("uid"), str) and isinstance(e.get("model"), str)
    )
    return RpcMaps(tuple(secrets), tuple(enum_fields), enums, uids)


def _applies(rpcs: tuple[str, ...], role: str, rpc: str, want_role: str) -> bool:
    return role in ("any", want_role) and any(fnmatchcase(rpc, g) for g in rpcs)


def _text(value: bytes) -> str:
    """The value as the projection shows it: text, or ``base64:…`` for bytes."""
    kind, parsed = classify(value)
    return parsed if kind == "string" else _b64(value)  # type: ignore[return-value]


def _at(fields: list[Field], parts: list[int], depth: int = 0) -> list[Field]:
    """Every field reached by following ``parts`` (repeated fields fan out)."""
    out: list[Field] = []
    for f in fields:
        if f.number != parts[0]:
            continue
        if len(parts) == 1:
            out.append(f)
        elif isinstance(f.value, bytes) and depth < MAX_DEPTH:
            inner = parse_fields(f.value)
            if inner is not None:
                out.extend(_at(inner, parts[1:], depth + 1))
    return out


def _subtree_values(f: Field, depth: int, out: list[str], paths: set[str], path: str) -> None:
    """Leaf values (strings, bytes) at or below ``f``, classified as the projection does."""
    if not isinstance(f.value, bytes) or len(out) >= _MAX_VALUES:
        return
    paths.add(path)
    kind, parsed = classify(f.value)
    if kind == "message" and depth < MAX_DEPTH:
        for g in parsed:  # type: ignore[union-attr]
            _subtree_values(g, depth + 1, out, paths, f"{path}.{g.number}")
    elif kind == "string":
        out.append(parsed)  # type: ignore[arg-type]
    else:
        out.append(_b64(f.value))


def scan_rpc(
    payload: bytes, rpc: str | None, role: str, maps: RpcMaps | None = None
) -> RpcFindings:
    """Apply the maps to one protobuf message of ``rpc`` sent as ``role``. Never raises."""
    found = RpcFindings()
    if not rpc or not payload:
        return found
    try:
        maps = maps or load_maps()
        fields = parse_fields(payload)
        if fields is None:
            return found
        for rule in maps.secrets:
            if not _applies(rule.rpcs, rule.role, rpc, role):
                continue
            parts = [int(p) for p in rule.path.split(".")]
            for f in _at(fields, parts):
                if not isinstance(f.value, bytes):
                    continue
                if rule.subtree:
                    values: list[str] = []
                    _subtree_values(f, len(parts), values, found.secret_paths, rule.path)
                    found.secrets.extend((rule.kind, v) for v in values if v)
                else:
                    found.secret_paths.add(rule.path)
                    found.secrets.append((rule.kind, _text(f.value)))
        for rule in maps.enum_fields:
            if not _applies(rule.rpcs, rule.role, rpc, role):
                continue
            table = maps.enums.get(rule.enum, {})
            for f in _at(fields, [int(p) for p in rule.path.split(".")]):
                if isinstance(f.value, int) and f.wire_type == 0 and f.value in table:
                    name, model = table[f.value]
                    found.models.append((model, f"{rule.path}=enum:{f.value}:{name}"))
        if maps.uids:
            from provenance.extract.protobuf import iter_strings

            relevant = {
                uid: model
                for globs, uid, model in maps.uids
                if any(fnmatchcase(rpc, g) for g in globs)
            }
            if relevant:
                for path, text in iter_strings(payload):
                    model = relevant.get(text)
                    if model and path not in found.secret_paths:
                        found.models.append((model, f"{path}=uid:{text}"))
    except Exception:
        return found
    return found
