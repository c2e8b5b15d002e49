"""Chat request formats as data: where a product's prompt, reply text and usage live.

Two sources under ``fingerprints/`` (each entry carries its source): ``probe_formats.json`` for
JSON APIs, keyed by the API the capture recognised (``openai.chat``, ``anthropic.messages`` …),
and the ``chat`` entries of ``protobuf_models.json`` for Connect/gRPC RPCs, keyed by an RPC glob
(``/aiserver.v1.ChatService/StreamUnifiedChatWithTools``). No product is named in code: a format
the files do not describe needs ``--prompt-at``/``--text-at``/``--usage-at``.

Loading never raises (a broken file means "no formats"; the catalog validator reports it).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

PROBE_FORMATS_FILE = "probe_formats.json"
PROTOBUF_MODELS_FILE = "protobuf_models.json"


@dataclass(frozen=True, slots=True)
class PromptRule:
    """One way to find the prompt (see ``fingerprints/probe_formats.json``'s description)."""

    field: str
    list: str | None = None
    where: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    parts_where: tuple[tuple[str, tuple[Any, ...]], ...] | None = None
    parts_field: str | None = None


@dataclass(frozen=True, slots=True)
class ChatFormat:
    """Where things live in one request format; ``protobuf`` means paths are field numbers."""

    name: str
    protobuf: bool
    prompt: tuple[PromptRule, ...]
    keep: tuple[tuple[str, tuple[Any, ...]], ...] | None = None
    max_tokens: tuple[str, ...] = ()
    temperature: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    usage_prompt: tuple[str, ...] = ()
    usage_completion: tuple[str, ...] = ()
    model: tuple[str, ...] = ()
    source: str = ""
    rpcs: tuple[str, ...] = field(default=())


def _strs(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _where(value: object) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if not isinstance(value, dict):
        return ()
    out = []
    for key, allowed in value.items():
        values = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        out.append((str(key), values))
    return tuple(out)


def _rule(entry: object) -> PromptRule | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("field"), str):
        return None
    parts = entry.get("parts")
    return PromptRule(
        field=entry["field"],
        list=entry["list"] if isinstance(entry.get("list"), str) else None,
        where=_where(entry.get("where")),
        parts_where=_where(parts.get("where")) if isinstance(parts, dict) else None,
        parts_field=str(parts["field"]) if isinstance(parts, dict) and "field" in parts else None,
    )


def _format(entry: dict[str, Any], name: str, protobuf: bool) -> ChatFormat | None:
    rules = tuple(r for r in map(_rule, entry.get("prompt") or []) if r is not None)
    if not rules:
        return None
    usage = entry.get("usage") if isinstance(entry.get("usage"), dict) else {}
    return ChatFormat(
        name=name,
        protobuf=protobuf,
        prompt=rules,
        keep=_where(entry["keep"]) if isinstance(entry.get("keep"), dict) else None,
        max_tokens=_strs(entry.get("max_tokens")),
        temperature=_strs(entry.get("temperature")),
        text=_strs(entry.get("text")),
        usage_prompt=_strs(usage.get("prompt")),
        usage_completion=_strs(usage.get("completion")),
        model=_strs(entry.get("model")),
        source=str(entry.get("source", "")),
        rpcs=_strs(entry.get("rpc")),
    )


def _read(name: str) -> dict:
    from provenance.paths import read_data_file

    return read_data_file(name)


@functools.lru_cache(maxsize=1)
def load_formats() -> tuple[ChatFormat, ...]:
    """Every known format: JSON APIs first, then RPCs. Cached; never raises."""
    out: list[ChatFormat] = []
    try:
        for entry in _read(PROBE_FORMATS_FILE).get("formats") or []:
            if isinstance(entry, dict) and isinstance(entry.get("api"), str):
                found = _format(entry, entry["api"], protobuf=False)
                if found is not None:
                    out.append(found)
        for entry in _read(PROTOBUF_MODELS_FILE).get("chat") or []:
            if isinstance(entry, dict) and _strs(entry.get("rpc")):
                found = _format(entry, _strs(entry.get("rpc"))[0], protobuf=True)
                if found is not None:
                    out.append(found)
    except Exception:
        return tuple(out)
    return tuple(out)


def format_for(api: str | None, rpc: str | None) -> ChatFormat | None:
    """The format of a request: by RPC path when it is one, else by the recognised API."""
    for fmt in load_formats():
        if fmt.protobuf:
            if rpc and any(fnmatchcase(rpc, g) for g in fmt.rpcs):
                return fmt
        elif api and api == fmt.name:
            return fmt
    return None


def matches(item: object, where: tuple[tuple[str, tuple[Any, ...]], ...]) -> bool:
    """True when ``item`` (a dict) has, for every key of ``where``, one of its allowed values
    (``None`` allowed: the key may be absent)."""
    if not isinstance(item, dict):
        return False
    for key, allowed in where:
        if key not in item:
            if None not in allowed:
                return False
        elif item[key] not in allowed:
            return False
    return True
