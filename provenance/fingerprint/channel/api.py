"""The ``api`` probe channel: a provider-shaped API at a URL the auditor types.

One :class:`ApiChannel` speaks one of four APIs; each is a small dialect that builds the request
for a :class:`~provenance.fingerprint.channel.Probe` and reads the text and logprobs of the
answer. Usage and the model id are read by the capture's own parsers
(:func:`provenance.extract.documents.scan_document` and
:class:`provenance.extract.usage.UsageAccumulator`), so a count means here what it means in a
captured exchange: ``prompt_tokens`` includes cached prompt tokens whatever the API.

* ``openai``: ``POST {base}/chat/completions`` (``base`` is ``…/v1``), one user message,
  ``max_tokens``/``temperature`` when the probe sets them, ``logprobs``/``top_logprobs`` when it
  asks for them, ``stream: false``. Method ``chat.completions``.
* ``anthropic``: ``POST /v1/messages`` (``base`` is the host root). The API requires
  ``max_tokens``: a probe that leaves it to the product (``None``) gets
  :data:`ANTHROPIC_DEFAULT_MAX_TOKENS`. ``input_tokens`` excludes cache reads and writes, so
  the prompt count is ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``.
  No logprobs. Counting: ``/v1/messages/count_tokens`` (``messages.count_tokens``).
* ``gemini``: ``POST {base}/models/{model}:generateContent`` (``base`` is the host root or ends
  in ``/v1beta`` or ``/v1``; key in ``x-goog-api-key``), ``generationConfig`` with
  ``maxOutputTokens``, ``temperature``, ``responseLogprobs``/``logprobs``; logprobs from
  ``candidates[0].logprobsResult``; the model from ``modelVersion``. Method
  ``models.generateContent``; counting ``:countTokens`` (``models.countTokens``,
  ``totalTokens``).
* ``bedrock``: ``POST {base}/model/{modelId}/converse`` (``base`` is
  ``https://bedrock-runtime.{region}.amazonaws.com``; ``modelId`` percent-encoded, since
  inference-profile ids and ARNs hold ``:`` and ``/``), ``inferenceConfig`` with ``maxTokens``,
  ``temperature``. Auth is a Bedrock API key as ``Authorization: Bearer``; **AWS SigV4 signing
  is not supported** (put a signing proxy in front). No logprobs; the answer names no model.
  Method ``converse``; counting ``/model/{modelId}/count-tokens`` (``count-tokens``).

``count_only`` probes use the API's counting endpoint where it has one (Anthropic, Gemini,
Bedrock). A counting endpoint that answers 404 or 405 is not offered there: the channel falls
back, once and for all, to the generating endpoint. A ``count_only`` probe that must generate
asks for one token (``max_tokens: 1``), whatever its ``max_tokens``.

Transport, retries, budget and the base-URL conventions are
:class:`~provenance.fingerprint.http.EndpointClient`'s: every HTTP attempt counts in
``requests_sent`` (retries and a counting endpoint's 404 too).
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from provenance.extract.documents import scan_document
from provenance.extract.usage import UsageAccumulator
from provenance.fingerprint.channel import ChannelError, Probe, Reply, TokenLogprob
from provenance.fingerprint.http import (
    Answer,
    BudgetSpent,
    EndpointClient,
    EndpointError,
    public_url,
)

__all__ = [
    "ANTHROPIC_DEFAULT_MAX_TOKENS",
    "APIS",
    "PROMPT_FIELDS",
    "ApiChannel",
    "EndpointUnreachable",
]

ANTHROPIC_DEFAULT_MAX_TOKENS = 1024  # the API requires a limit; enough for a probe's answer
FALLBACK_STATUSES = (404, 405)  # a counting endpoint that is not offered

# Reply.method → where that answer carries the prompt count (for messages such as "no … count").
PROMPT_FIELDS = {
    "chat.completions": "usage.prompt_tokens",
    "messages.count_tokens": "input_tokens",
    "messages": "usage.input_tokens",
    "models.generateContent": "usageMetadata.promptTokenCount",
    "models.countTokens": "totalTokens",
    "converse": "usage.inputTokens",
    "count-tokens": "inputTokens",
}


class EndpointUnreachable(ChannelError, EndpointError):
    """The endpoint could not be reached at all: a :class:`ChannelError` for the channel's
    callers and an :class:`EndpointError` for code written against the transport."""


@dataclass(frozen=True, slots=True)
class Request:
    """One request a dialect builds: ``path`` under the base URL, the ``method`` a reply
    names, ``api`` as the capture's parsers call it (:mod:`provenance.extract.locate`)."""

    path: str
    method: str
    api: str
    body: dict[str, Any]


class Dialect(ABC):
    """One API's hooks: build the generating (and counting) request, read text and logprobs.
    Every API fills in :meth:`generate` and :meth:`pieces`; counting and logprobs are optional."""

    name = ""

    @abstractmethod
    def generate(self, model: str, probe: Probe) -> Request:
        """The request that generates a reply to ``probe``."""

    def count(self, model: str, probe: Probe) -> Request | None:
        """The counting request, or None when the API has no counting endpoint."""
        return None

    @abstractmethod
    def pieces(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        """The reply text of one answer document (one piece for a whole-body reply)."""

    def logprobs(self, doc: Mapping[str, Any]) -> tuple[TokenLogprob, ...] | None:
        return None


class OpenAIChat(Dialect):
    name = "openai"

    def generate(self, model: str, probe: Probe) -> Request:
        body: dict[str, Any] = {"model": model, "messages": [_user(probe.text)]}
        if probe.max_tokens is not None:
            body["max_tokens"] = probe.max_tokens
        if probe.temperature is not None:
            body["temperature"] = probe.temperature
        if probe.top_logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = probe.top_logprobs
        body["stream"] = False
        return Request("/chat/completions", "chat.completions", "openai.chat", body)

    def pieces(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        content = _dig(_first(doc.get("choices")), "message", "content")
        return (content,) if isinstance(content, str) else ()

    def logprobs(self, doc: Mapping[str, Any]) -> tuple[TokenLogprob, ...] | None:
        entries = _dig(_first(doc.get("choices")), "logprobs", "content")
        if not isinstance(entries, list):
            return None
        out = []
        for entry in entries:
            token, logprob = _dig(entry, "token"), _logprob(entry, "logprob", None)
            if not isinstance(token, str) or logprob is None:
                return None  # a malformed entry would misalign every later token
            top = _alternatives(_dig(entry, "top_logprobs"), "token", "logprob")
            out.append(TokenLogprob(token, logprob, top))
        return tuple(out)


class AnthropicMessages(Dialect):
    name = "anthropic"

    def generate(self, model: str, probe: Probe) -> Request:
        limit = ANTHROPIC_DEFAULT_MAX_TOKENS if probe.max_tokens is None else probe.max_tokens
        body: dict[str, Any] = {"model": model, "messages": [_user(probe.text)]}
        body["max_tokens"] = limit
        if probe.temperature is not None:
            body["temperature"] = probe.temperature
        return Request("/v1/messages", "messages", "anthropic.messages", body)

    def count(self, model: str, probe: Probe) -> Request:
        body = {"model": model, "messages": [_user(probe.text)]}
        return Request(
            "/v1/messages/count_tokens", "messages.count_tokens", "anthropic.count_tokens", body
        )

    def pieces(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        blocks = doc.get("content")
        texts = [
            b["text"]
            for b in (blocks if isinstance(blocks, list) else [])
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        return ("".join(texts),) if texts else ()


class GeminiGenerate(Dialect):
    name = "gemini"

    def generate(self, model: str, probe: Probe) -> Request:
        config: dict[str, Any] = {}
        if probe.max_tokens is not None:
            config["maxOutputTokens"] = probe.max_tokens
        if probe.temperature is not None:
            config["temperature"] = probe.temperature
        if probe.top_logprobs is not None:
            config["responseLogprobs"] = True
            config["logprobs"] = probe.top_logprobs
        body: dict[str, Any] = {"contents": [_gemini_content(probe.text)]}
        if config:
            body["generationConfig"] = config
        path = f"/{_gemini_resource(model)}:generateContent"
        return Request(path, "models.generateContent", "gemini.generate", body)

    def count(self, model: str, probe: Probe) -> Request:
        body = {"contents": [_gemini_content(probe.text)]}
        path = f"/{_gemini_resource(model)}:countTokens"
        return Request(path, "models.countTokens", "gemini.count_tokens", body)

    def pieces(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        parts = _dig(_first(doc.get("candidates")), "content", "parts")
        texts = [
            p["text"]
            for p in (parts if isinstance(parts, list) else [])
            if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
        ]
        return ("".join(texts),) if texts else ()

    def logprobs(self, doc: Mapping[str, Any]) -> tuple[TokenLogprob, ...] | None:
        result = _dig(_first(doc.get("candidates")), "logprobsResult")
        chosen = _dig(result, "chosenCandidates")
        if not isinstance(chosen, list):
            return None
        tops = _dig(result, "topCandidates")
        tops = tops if isinstance(tops, list) else []
        out = []
        for i, entry in enumerate(chosen):
            # proto3 JSON leaves out zero values: a missing logProbability is 0.0
            token, logprob = _dig(entry, "token"), _logprob(entry, "logProbability", 0.0)
            if not isinstance(token, str) or logprob is None:
                return None
            step = _dig(tops[i], "candidates") if i < len(tops) else None
            top = _alternatives(step, "token", "logProbability", 0.0)
            out.append(TokenLogprob(token, logprob, top))
        return tuple(out)


class BedrockConverse(Dialect):
    name = "bedrock"

    def generate(self, model: str, probe: Probe) -> Request:
        config: dict[str, Any] = {}
        if probe.max_tokens is not None:
            config["maxTokens"] = probe.max_tokens
        if probe.temperature is not None:
            config["temperature"] = probe.temperature
        body: dict[str, Any] = {"messages": [_bedrock_message(probe.text)]}
        if config:
            body["inferenceConfig"] = config
        path = f"/model/{quote(model, safe='')}/converse"
        return Request(path, "converse", "bedrock.converse", body)

    def count(self, model: str, probe: Probe) -> Request:
        body = {"input": {"converse": {"messages": [_bedrock_message(probe.text)]}}}
        path = f"/model/{quote(model, safe='')}/count-tokens"
        return Request(path, "count-tokens", "bedrock.count_tokens", body)

    def pieces(self, doc: Mapping[str, Any]) -> tuple[str, ...]:
        blocks = _dig(doc, "output", "message", "content")
        texts = [
            b["text"]
            for b in (blocks if isinstance(blocks, list) else [])
            if isinstance(b, dict) and isinstance(b.get("text"), str)
        ]
        return ("".join(texts),) if texts else ()


DIALECTS: dict[str, Dialect] = {
    d.name: d for d in (OpenAIChat(), AnthropicMessages(), GeminiGenerate(), BedrockConverse())
}
APIS = tuple(DIALECTS)


class ApiChannel:
    """Probes sent to ``model`` at ``base_url`` in the ``api``'s own shape (module docstring).

    ``method`` is what the last reply used; ``requests_sent`` counts every HTTP attempt;
    ``set_budget`` caps them (:class:`BudgetSpent` before anything more is sent). ``send``
    returns a :class:`Reply` for every answer, any status (``reply.error`` on one line, never
    the key nor the URL's query), and raises :class:`EndpointUnreachable` (a
    :class:`ChannelError`) when the endpoint cannot be reached after the retries.
    """

    kind = "api"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api: str = "openai",
        api_key: str | None = None,
        timeout: float = 60.0,
        max_attempts: int = 3,
        max_wait: float = 30.0,
        max_requests: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if api not in DIALECTS:
            raise ValueError(f"unknown api {api!r}; expected one of {', '.join(APIS)}")
        self.base_url = base_url  # as typed (it may hold a key): show `target` instead
        self.model = model
        self.api = api
        self.method: str | None = None
        self._dialect = DIALECTS[api]
        self._key = api_key
        self._counting: bool | None = None  # None: the counting endpoint not tried yet
        self._http = EndpointClient(
            base_url,
            api=api,
            api_key=api_key,
            timeout=timeout,
            max_attempts=max_attempts,
            max_wait=max_wait,
            max_requests=max_requests,
            sleep=sleep,
        )

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    @property
    def max_requests(self) -> int | None:
        return self._http.max_requests

    def set_budget(self, max_requests: int | None) -> None:
        """At most ``max_requests`` HTTP requests in all from now on (counted since the start)."""
        self._http.max_requests = max_requests

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "api": self.api, "target": self.target, "model": self.model}

    @property
    def target(self) -> str:
        """The base URL as it may be shown (no key, no query)."""
        return self._http.shown

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, probe: Probe) -> Reply:
        """Send ``probe`` (see :mod:`provenance.fingerprint.channel` for the contract)."""
        try:
            return self._send(probe)
        except BudgetSpent:
            raise
        except EndpointError as exc:
            raise EndpointUnreachable(self._safe(str(exc))) from None

    def _send(self, probe: Probe) -> Reply:
        if probe.count_only and self._counting is not False:
            counting = self._dialect.count(self.model, probe)
            if counting is not None:
                answer = self._http.post(counting.path, counting.body)
                if answer.status not in FALLBACK_STATUSES:
                    self._counting = True
                    return self._read(answer, counting)
                self._counting = False
        if probe.count_only:
            probe = dataclasses.replace(probe, max_tokens=1)
        request = self._dialect.generate(self.model, probe)
        return self._read(self._http.post(request.path, request.body), request)

    def _read(self, answer: Answer, request: Request) -> Reply:
        self.method = request.method
        shown = public_url(self._http.url(request.path))
        status = answer.status
        error = None
        if status >= 400:
            error = f"HTTP {status} from {shown}: {answer.error_text()}"
        elif answer.doc is None:
            error = f"non-JSON answer from {shown} ({answer.content_type})"
        elif not isinstance(answer.doc, dict):
            error = f"answer from {shown} is not a JSON object"
        if error is not None:
            return Reply(status, error=self._safe(error), method=request.method)
        doc = answer.doc
        found = scan_document(doc, api=request.api)
        usage = UsageAccumulator()
        for dialect, location, obj in found.usages:
            usage.add(dialect, location, obj)
        counts = usage.result()
        return Reply(
            status,
            pieces=self._dialect.pieces(doc),
            prompt_tokens=counts.input_tokens,
            completion_tokens=counts.output_tokens,
            logprobs=self._dialect.logprobs(doc),
            model=found.ids[0][0] if found.ids else None,
            method=request.method,
        )

    def _safe(self, message: str) -> str:
        """``message`` without the key, should a server have quoted it back."""
        return message.replace(self._key, "[key]") if self._key else message


# ------------------------------------------------------------------------------ helpers


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _gemini_content(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


def _bedrock_message(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def _gemini_resource(model: str) -> str:
    """``models/{model}``; a full resource name (``models/…``, ``tunedModels/…``) as given."""
    name = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
    return quote(name, safe="/")


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else None


def _dig(value: object, *keys: str) -> Any:
    """``value[k1][k2]…``, None where a level is not a dict or a key is missing."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _logprob(entry: object, key: str, missing: float | None) -> float | None:
    """The entry's logprob; ``missing`` when the key is absent (proto3 JSON leaves out 0.0)."""
    if not isinstance(entry, dict):
        return None
    return _number(entry.get(key, missing))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _alternatives(
    entries: object, token_key: str, logprob_key: str, missing: float | None = None
) -> tuple[tuple[str, float], ...]:
    """The well-formed ``(token, logprob)`` pairs of a top-candidates list."""
    out = []
    for entry in entries if isinstance(entries, list) else []:
        token, logprob = _dig(entry, token_key), _logprob(entry, logprob_key, missing)
        if isinstance(token, str) and logprob is not None:
            out.append((token, logprob))
    return tuple(out)
