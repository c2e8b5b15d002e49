"""Provider parsers over JSON documents: model ids, usage and the API they belong to.

A "document" is any JSON value: a whole request or response body, the data of one SSE event,
one element of a JSON array stream, or one Connect JSON message. :func:`scan_document` looks
only at the places each API documents, never at arbitrary strings:

* OpenAI chat completions / completions / embeddings and every OpenAI-compatible provider
  (OpenRouter, Fireworks, Together, Groq, DeepSeek, Moonshot, Mistral, xAI, Copilot):
  ``$.model``; usage in ``$.usage`` (Groq streams put it in ``$.x_groq.usage``); OpenRouter's
  upstream ``$.provider`` is kept in ``Usage.raw``.
  https://platform.openai.com/docs/api-reference/chat/object
* OpenAI Responses: ``$.model`` on the response object; ``$.response.model`` and
  ``$.response.usage`` in ``response.created`` / ``response.completed`` (and ``.incomplete``,
  ``.failed``) events. https://platform.openai.com/docs/api-reference/responses-streaming
* Anthropic messages: ``$.model`` and ``$.usage``; streamed ``message_start`` carries
  ``$.message.model`` / ``$.message.usage``, ``message_delta`` a cumulative ``$.usage``;
  ``count_tokens`` answers ``{"input_tokens": N}``.
  https://docs.anthropic.com/en/docs/build-with-claude/streaming
* Gemini / Vertex: ``$.modelVersion`` and ``$.usageMetadata`` (the model is in the URL);
  ``countTokens`` answers ``{"totalTokens": N}`` (counted as input).
  https://ai.google.dev/api/generate-content#generatecontentresponse
* OpenAI Realtime / sessions: ``$.session.model``; ``response.done`` usage in
  ``$.response.usage``. https://platform.openai.com/docs/api-reference/realtime-server-events
* Gemini Live (``BidiGenerateContent``): the client's first message ``$.setup.model``;
  ``$.usageMetadata`` in server messages. https://ai.google.dev/api/live
* AWS Bedrock: Converse ``$.usage`` (camelCase ``inputTokens``…), ConverseStream / Nova
  ``metadata`` events (``$.usage``, or ``$.metadata.usage`` inside an invoke chunk), the
  ``$.amazon-bedrock-invocationMetrics`` object in an invoke stream's last chunk, and Meta
  Llama's top-level ``prompt_token_count`` / ``generation_token_count``; ``count-tokens``
  answers ``{"inputTokens": N}``.
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from provenance.extract.usage import guess_dialect

_MAX_ID_LEN = 300

# (JSON path as keys, location string) where a model id may sit, per the docs above.
_MODEL_PATHS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("model",), "$.model"),
    (("message", "model"), "$.message.model"),
    (("response", "model"), "$.response.model"),
    (("modelVersion",), "$.modelVersion"),
    (("session", "model"), "$.session.model"),
    (("setup", "model"), "$.setup.model"),
)
_USAGE_PATHS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("usage",), "$.usage"),
    (("message", "usage"), "$.message.usage"),
    (("response", "usage"), "$.response.usage"),
    (("x_groq", "usage"), "$.x_groq.usage"),
    (("usageMetadata",), "$.usageMetadata"),
    (("metadata", "usage"), "$.metadata.usage"),
    (("delta", "usage"), "$.delta.usage"),  # Cohere v2 stream message-end
    (("meta",), "$.meta"),  # Cohere v1
    (("amazon-bedrock-invocationMetrics",), "$.amazon-bedrock-invocationMetrics"),
)
# (table order, is a model path, keys, location): model paths first, then usage paths, each in
# the order above (the order ids and usages are reported in), and by the path's first key.
_ALL_PATHS = tuple(
    (order, order < len(_MODEL_PATHS), keys, location)
    for order, (keys, location) in enumerate(_MODEL_PATHS + _USAGE_PATHS)
)
_BY_HEAD: dict[str, tuple[tuple[int, bool, tuple[str, ...], str], ...]] = {
    head: tuple(entry for entry in _ALL_PATHS if entry[2][0] == head)
    for head in {entry[2][0] for entry in _ALL_PATHS}
}
_LLAMA_KEYS = ("prompt_token_count", "generation_token_count")
_ANTHROPIC_EVENTS = frozenset(
    {
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "ping",
    }
)


@dataclass(slots=True)
class DocFindings:
    """What one document says: ``ids`` as ``(model_id, location)``; ``usages`` as
    ``(dialect, location, object)``; ``extra`` raw values to keep beside usage; ``api``."""

    ids: list[tuple[str, str]] = field(default_factory=list)
    usages: list[tuple[str, str, Mapping]] = field(default_factory=list)
    extra: list[tuple[str, object]] = field(default_factory=list)
    api: str | None = None


def _is_mapping(value: object) -> bool:
    """``isinstance(value, Mapping)``, with parsed JSON's ``dict`` first (the ABC check costs
    several times a plain type check, and this runs for every path of every stream frame)."""
    return type(value) is dict or isinstance(value, Mapping)


def _get(doc: Mapping, keys: tuple[str, ...]) -> object:
    value: object = doc
    for key in keys:
        if not _is_mapping(value):
            return None
        value = value.get(key)  # type: ignore[attr-defined]
    return value


def api_from_document(doc: Mapping) -> str | None:
    """Recognise the API from a document's own shape (``object`` / ``type`` markers)."""
    obj = doc.get("object")
    typ = doc.get("type")
    obj = obj if isinstance(obj, str) else None
    typ = typ if isinstance(typ, str) else None
    if obj in ("chat.completion", "chat.completion.chunk"):
        return "openai.chat"
    if obj == "text_completion":
        return "openai.completions"
    if obj == "response" or (typ is not None and typ.startswith("response.")):
        return "openai.responses"
    if typ in _ANTHROPIC_EVENTS or (typ == "message" and doc.get("role") == "assistant"):
        return "anthropic.messages"
    if "candidates" in doc or "usageMetadata" in doc or "modelVersion" in doc:
        return "gemini.generate"
    return None


def scan_document(doc: object, *, api: str | None = None) -> DocFindings:
    """Model ids and usage in one JSON document. ``api`` (from the URL) disambiguates usage
    shapes; the document's own markers are used when it is None. Never raises."""
    found = DocFindings()
    if isinstance(doc, list):
        # A whole JSON-array stream parsed at once (Gemini without alt=sse).
        for index, item in enumerate(doc[:10_000]):
            sub = scan_document(item, api=api)
            found.ids.extend((mid, f"$[{index}]{loc[1:]}") for mid, loc in sub.ids)
            found.usages.extend((d, f"$[{index}]{loc[1:]}", o) for d, loc, o in sub.usages)
            found.extra.extend(sub.extra)
            found.api = found.api or sub.api
        return found
    if not _is_mapping(doc):
        return found
    found.api = api_from_document(doc)
    effective_api = api or found.api
    if len(doc) <= len(_BY_HEAD):  # a frame's few keys: look up the paths that start there
        hits = [entry for key in doc if (entries := _BY_HEAD.get(key)) for entry in entries]
        hits.sort()
    else:
        hits = [entry for entry in _ALL_PATHS if entry[2][0] in doc]
    for _order, is_model, keys, location in hits:
        value = _get(doc, keys)
        if is_model:
            if isinstance(value, str) and 0 < len(value.strip()) <= _MAX_ID_LEN:
                found.ids.append((value.strip(), location))
        elif value and _is_mapping(value):
            dialect = guess_dialect(value, effective_api)
            if dialect:
                found.usages.append((dialect, location, value))
    count_tokens = effective_api == "anthropic.count_tokens" or (
        effective_api is None and len(doc) == 1 and "input_tokens" in doc
    )
    if count_tokens and isinstance(doc.get("input_tokens"), int):
        found.api = found.api or "anthropic.count_tokens"
        found.usages.append(("anthropic", "$", {"input_tokens": doc["input_tokens"]}))
    if _LLAMA_KEYS[0] in doc or _LLAMA_KEYS[1] in doc:
        llama = {k: doc[k] for k in _LLAMA_KEYS if isinstance(doc.get(k), int)}
        if llama:
            found.usages.append(("bedrock.llama", "$", llama))
    if effective_api == "gemini.count_tokens" and isinstance(doc.get("totalTokens"), int):
        # countTokens answers {"totalTokens": N}: the prompt's size, nothing generated
        found.usages.append(("gemini", "$", {"promptTokenCount": doc["totalTokens"]}))
    if effective_api == "bedrock.count_tokens" and isinstance(doc.get("inputTokens"), int):
        found.usages.append(("bedrock", "$", {"inputTokens": doc["inputTokens"]}))
    provider = doc.get("provider")
    if isinstance(provider, str) and provider and len(provider) <= _MAX_ID_LEN:
        found.extra.append(("$.provider", provider))
    return found
