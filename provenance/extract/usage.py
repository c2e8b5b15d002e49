"""Token-usage normalisation across providers, and accumulation over a stream's frames.

Dialects (the provider's field names → :class:`provenance.records.Usage`):

* ``openai`` (chat completions and every OpenAI-compatible API): ``prompt_tokens`` (includes
  cached) → input, ``completion_tokens`` → output, ``prompt_tokens_details.cached_tokens`` (or
  DeepSeek's ``prompt_cache_hit_tokens``) → cached, ``prompt_tokens_details.cache_write_tokens``
  (OpenRouter) → cache write, ``completion_tokens_details.reasoning_tokens`` → reasoning,
  ``total_tokens``, ``cost`` (OpenRouter, credits).
* ``openai.responses``: ``input_tokens``, ``output_tokens``, ``total_tokens``,
  ``input_tokens_details.cached_tokens``, ``output_tokens_details.reasoning_tokens``.
* ``anthropic``: ``input_tokens`` excludes cache reads and writes, so input = ``input_tokens``
  + ``cache_read_input_tokens`` + ``cache_creation_input_tokens``; cached = cache reads;
  cache write = cache creation. No total is reported, so none is invented.
* ``gemini``: ``promptTokenCount`` (includes cached content) → input,
  ``cachedContentTokenCount`` → cached, ``candidatesTokenCount + thoughtsTokenCount`` → output
  (thinking tokens are billed as output but not counted in candidates), ``thoughtsTokenCount``
  → reasoning, ``totalTokenCount``.

Streams report usage piecemeal (Anthropic ``message_start`` then cumulative ``message_delta``;
OpenAI a last chunk): :class:`UsageAccumulator` merges a dialect's objects in arrival order,
later keys overriding earlier ones, and normalises once at the end.
"""

from __future__ import annotations

from collections.abc import Mapping

from provenance.records import Usage

DIALECTS = ("openai", "openai.responses", "anthropic", "gemini")


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _sub(obj: Mapping, key: str, sub: str) -> int | None:
    inner = obj.get(key)
    return _int(inner.get(sub)) if isinstance(inner, Mapping) else None


def _sum(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def guess_dialect(obj: Mapping, api: str | None = None) -> str | None:
    """The usage dialect of ``obj`` from its keys (and the API, for ambiguous shapes)."""
    if "prompt_tokens" in obj or "completion_tokens" in obj:
        return "openai"
    if "promptTokenCount" in obj or "candidatesTokenCount" in obj or "totalTokenCount" in obj:
        return "gemini"
    if "input_tokens" in obj or "output_tokens" in obj:
        if "cache_read_input_tokens" in obj or "cache_creation_input_tokens" in obj:
            return "anthropic"
        if "input_tokens_details" in obj or "output_tokens_details" in obj:
            return "openai.responses"
        if api and api.startswith("anthropic"):
            return "anthropic"
        return "openai.responses" if api == "openai.responses" else "anthropic"
    return None


def normalise(dialect: str, obj: Mapping) -> Usage:
    """Map one (merged) provider usage object to :class:`Usage` (``raw`` left empty)."""
    if dialect == "openai":
        cached = _sub(obj, "prompt_tokens_details", "cached_tokens")
        if cached is None:
            cached = _int(obj.get("prompt_cache_hit_tokens"))
        cost = obj.get("cost")
        return Usage(
            input_tokens=_int(obj.get("prompt_tokens")),
            output_tokens=_int(obj.get("completion_tokens")),
            cached_tokens=cached,
            cache_write_tokens=_sub(obj, "prompt_tokens_details", "cache_write_tokens"),
            reasoning_tokens=_sub(obj, "completion_tokens_details", "reasoning_tokens"),
            total_tokens=_int(obj.get("total_tokens")),
            cost=float(cost)
            if isinstance(cost, int | float) and not isinstance(cost, bool)
            else None,
        )
    if dialect == "openai.responses":
        return Usage(
            input_tokens=_int(obj.get("input_tokens")),
            output_tokens=_int(obj.get("output_tokens")),
            cached_tokens=_sub(obj, "input_tokens_details", "cached_tokens"),
            reasoning_tokens=_sub(obj, "output_tokens_details", "reasoning_tokens"),
            total_tokens=_int(obj.get("total_tokens")),
        )
    if dialect == "anthropic":
        base = _int(obj.get("input_tokens"))
        read = _int(obj.get("cache_read_input_tokens"))
        write = _int(obj.get("cache_creation_input_tokens"))
        return Usage(
            input_tokens=_sum(base, read, write) if base is not None else None,
            output_tokens=_int(obj.get("output_tokens")),
            cached_tokens=read,
            cache_write_tokens=write,
        )
    if dialect == "gemini":
        thoughts = _int(obj.get("thoughtsTokenCount"))
        return Usage(
            input_tokens=_int(obj.get("promptTokenCount")),
            output_tokens=_sum(_int(obj.get("candidatesTokenCount")), thoughts),
            cached_tokens=_int(obj.get("cachedContentTokenCount")),
            reasoning_tokens=thoughts,
            total_tokens=_int(obj.get("totalTokenCount")),
        )
    return Usage()


_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost",
)


class UsageAccumulator:
    """Collect usage objects as frames arrive; :meth:`result` merges and normalises."""

    def __init__(self) -> None:
        self._merged: dict[str, dict[str, object]] = {}
        self._raw: dict[str, object] = {}

    def add(self, dialect: str, location: str, obj: Mapping) -> None:
        """Record ``obj`` (a provider usage object found at ``location``)."""
        merged = self._merged.setdefault(dialect, {})
        for key, value in obj.items():
            if value is not None:
                merged[key] = value
        self._raw[location] = dict(obj)

    def add_raw(self, location: str, value: object) -> None:
        """Keep a usage-related value that is not itself a usage object (e.g. OpenRouter's
        upstream ``provider``) in ``Usage.raw``."""
        self._raw[location] = value

    def result(self) -> Usage:
        usage = Usage(raw=dict(self._raw))
        for dialect, merged in self._merged.items():
            part = normalise(dialect, merged)
            for name in _FIELDS:
                if getattr(usage, name) is None:
                    setattr(usage, name, getattr(part, name))
        return usage


def merge_usage(first: Usage, second: Usage) -> Usage:
    """Combine two usages: fields of ``first`` win where set; ``raw`` dicts are merged, with
    ``first``'s entry kept when both found an object at the same location."""
    out = Usage(raw={**second.raw, **first.raw})
    for name in _FIELDS:
        a = getattr(first, name)
        setattr(out, name, a if a is not None else getattr(second, name))
    return out
