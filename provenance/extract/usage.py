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
  → reasoning, ``totalTokenCount``. Gemini Live sends the same object as ``responseTokenCount``
  for output.
* ``openai.realtime`` (``response.done``): ``input_tokens``, ``output_tokens``,
  ``total_tokens``, ``input_token_details.cached_tokens`` (note: ``token``, not ``tokens``).
  https://platform.openai.com/docs/api-reference/realtime-server-events/response/done
* ``bedrock`` (Converse ``usage``, ConverseStream ``metadata.usage``, Nova): ``inputTokens``
  excludes cache reads and writes (https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html),
  so input = ``inputTokens + cacheReadInputTokens + cacheWriteInputTokens``; ``outputTokens``,
  ``totalTokens``. https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
* ``bedrock.metrics``: ``amazon-bedrock-invocationMetrics`` in the last chunk of an
  ``InvokeModelWithResponseStream``: ``inputTokenCount``, ``outputTokenCount`` (plus
  ``cacheReadInputTokenCount`` / ``cacheWriteInputTokenCount`` when present, counted like
  ``bedrock``). https://docs.aws.amazon.com/bedrock/latest/userguide/inference-invoke.html
* ``bedrock.llama``: Meta Llama's own ``prompt_token_count`` / ``generation_token_count``.
  https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-meta.html
  Lower priority than ``bedrock.metrics``: when both are present the platform's counts win.
* ``cohere`` (v2 ``usage``, v2 stream ``message-end`` ``delta.usage``, v1 ``meta``): ``tokens``
  holds what the model processed (the chat template included), ``billed_units`` what was billed;
  ``tokens`` wins, ``billed_units`` fills in when it is the only figure.
  https://docs.cohere.com/reference/chat#response.body.usage

Streams report usage piecemeal (Anthropic ``message_start`` then cumulative ``message_delta``;
OpenAI a last chunk): :class:`UsageAccumulator` merges a dialect's objects in arrival order,
later keys overriding earlier ones, and normalises once at the end.
"""

from __future__ import annotations

from collections.abc import Mapping

from provenance.records import Usage

DIALECTS = (
    "openai",
    "openai.responses",
    "openai.realtime",
    "anthropic",
    "gemini",
    "bedrock",
    "bedrock.metrics",
    "bedrock.llama",
    "cohere",
)
_LOW_PRIORITY = frozenset({"bedrock.llama"})


_MAX_COUNT = 2**63 - 1  # a store's BIGINT; a larger "count" is not one


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_COUNT else None
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
    if "responseTokenCount" in obj:
        return "gemini"
    if "inputTokens" in obj or "outputTokens" in obj:
        return "bedrock"
    if "inputTokenCount" in obj or "outputTokenCount" in obj:
        return "bedrock.metrics"
    if "prompt_token_count" in obj or "generation_token_count" in obj:
        return "bedrock.llama"
    if "input_token_details" in obj or "output_token_details" in obj:
        return "openai.realtime"
    if _is_cohere(obj):
        return "cohere"
    if "input_tokens" in obj or "output_tokens" in obj:
        if "cache_read_input_tokens" in obj or "cache_creation_input_tokens" in obj:
            return "anthropic"
        if "input_tokens_details" in obj or "output_tokens_details" in obj:
            return "openai.responses"
        if api and api.startswith("anthropic"):
            return "anthropic"
        return "openai.responses" if api == "openai.responses" else "anthropic"
    return None


def _is_cohere(obj: Mapping) -> bool:
    return any(isinstance(obj.get(key), Mapping) for key in ("tokens", "billed_units"))


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
    if dialect == "openai.realtime":
        return Usage(
            input_tokens=_int(obj.get("input_tokens")),
            output_tokens=_int(obj.get("output_tokens")),
            cached_tokens=_sub(obj, "input_token_details", "cached_tokens"),
            total_tokens=_int(obj.get("total_tokens")),
        )
    if dialect in ("bedrock", "bedrock.metrics"):
        end = "s" if dialect == "bedrock" else "Count"  # inputTokens vs inputTokenCount
        base = _int(obj.get("inputToken" + end))
        read = _int(obj.get("cacheReadInputToken" + end))
        write = _int(obj.get("cacheWriteInputToken" + end))
        return Usage(
            input_tokens=_sum(base, read, write) if base is not None else None,
            output_tokens=_int(obj.get("outputToken" + end)),
            cached_tokens=read,
            cache_write_tokens=write,
            total_tokens=_int(obj.get("totalTokens")) if dialect == "bedrock" else None,
        )
    if dialect == "bedrock.llama":
        return Usage(
            input_tokens=_int(obj.get("prompt_token_count")),
            output_tokens=_int(obj.get("generation_token_count")),
        )
    if dialect == "cohere":
        tokens, billed = obj.get("tokens"), obj.get("billed_units")
        counts = [part for part in (tokens, billed) if isinstance(part, Mapping)]

        def first(key: str) -> int | None:
            return next((v for v in (_int(c.get(key)) for c in counts) if v is not None), None)

        return Usage(input_tokens=first("input_tokens"), output_tokens=first("output_tokens"))
    if dialect == "gemini":
        thoughts = _int(obj.get("thoughtsTokenCount"))
        candidates = _int(obj.get("candidatesTokenCount"))
        if candidates is None:
            candidates = _int(obj.get("responseTokenCount"))
        return Usage(
            input_tokens=_int(obj.get("promptTokenCount")),
            output_tokens=_sum(candidates, thoughts),
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
        ordered = sorted(self._merged.items(), key=lambda item: item[0] in _LOW_PRIORITY)
        for dialect, merged in ordered:
            part = normalise(dialect, merged)
            for name in _FIELDS:
                if getattr(usage, name) is None:
                    setattr(usage, name, getattr(part, name))
        return usage


def add_usage(total: Usage, part: Usage) -> Usage:
    """Sum two usages field by field (``None`` + n = n); ``raw`` dicts merged, ``part`` last.
    For sessions that report usage per turn (OpenAI Realtime ``response.done``, Gemini Live)."""
    out = Usage(raw={**total.raw, **part.raw})
    for name in _FIELDS:
        a, b = getattr(total, name), getattr(part, name)
        setattr(out, name, b if a is None else a if b is None else a + b)
    return out


def merge_usage(first: Usage, second: Usage) -> Usage:
    """Combine two usages: fields of ``first`` win where set; ``raw`` dicts are merged, with
    ``first``'s entry kept when both found an object at the same location."""
    out = Usage(raw={**second.raw, **first.raw})
    for name in _FIELDS:
        a = getattr(first, name)
        setattr(out, name, a if a is not None else getattr(second, name))
    return out
