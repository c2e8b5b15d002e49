"""Probing the audited endpoint: what it says about each probe, in the order we prefer.

Paths are relative to the OpenAI-style base URL (``…/v1``, see :mod:`provenance.fingerprint.http`):

1. ``completions-echo``: ``POST /completions`` with ``echo: true``, ``logprobs: k``,
   ``max_tokens: 0`` (retried once with 1, which vLLM wants): prompt logprobs at every prompt
   position, the richest and cheapest signal (one request per probe text);
2. ``chat-logprobs``: ``POST /chat/completions`` with ``logprobs: true``, ``top_logprobs: k``,
   temperature 0: logprobs of the generated tokens;
3. ``completions-text`` then ``chat-text``: greedy continuations without logprobs, for endpoints
   that give none (greedy agreement).

Every probe request counts against ``max_requests``; over HTTP every retry counts too (the
shared :class:`~provenance.fingerprint.http.EndpointClient` holds the same budget). The transport
is a callable ``post(path, body) -> (status, json)``: HTTP for real endpoints, an in-process
``ReferenceService`` for calibration and benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provenance.errors import FingerprintError
from provenance.fingerprint.http import BudgetSpent, EndpointClient

Post = Callable[[str, dict[str, Any]], tuple[int, Any]]
APIS = ("completions-echo", "chat-logprobs", "completions-text", "chat-text")


@dataclass(frozen=True)
class ObservedToken:
    """One token as the endpoint reported it."""

    text: str
    logprob: float | None  # None: not reported (the first prompt token, or no logprobs)
    top: tuple[tuple[str, float], ...] = ()  # the endpoint's top alternatives, best first


@dataclass(frozen=True)
class Observation:
    """What one probe request returned.

    ``completions-echo``: ``tokens`` are the endpoint's tokens of ``prompt``, scored from index 1.
    ``chat-logprobs``: ``tokens`` are the generated tokens after ``messages``.
    ``completions-text`` / ``chat-text``: the generated text only, in ``text`` (after ``prompt``
    or ``messages``); ``tokens`` is empty.
    """

    probe_id: str
    api: str
    prompt: str | None
    messages: tuple[Mapping[str, str], ...] | None
    tokens: tuple[ObservedToken, ...]
    text: str = ""


class EndpointProber:
    """Sends probes to one endpoint, detecting the best API on the first probe."""

    def __init__(
        self, post: Post, model: str, *, max_requests: int = 32, top_k: int = 5,
        chat_tokens: int = 32,
    ) -> None:  # fmt: skip
        self._post = post
        self.model = model
        self.max_requests = max_requests
        self.top_k = top_k
        self.chat_tokens = chat_tokens
        self.requests = 0
        self.api: str | None = None
        self.notes: list[str] = []

    def _call(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if self.requests >= self.max_requests:
            raise BudgetSpent(f"the budget of {self.max_requests} requests is spent")
        self.requests += 1
        return self._post(path, body)

    def probe(self, probe_id: str, text: str) -> Observation | None:
        """Probe with ``text``; None when this API gave nothing usable (then the next is tried)."""
        order = [self.api] if self.api else list(APIS)
        for api in order:
            obs = self._try(api, probe_id, text)
            if obs is not None:
                self.api = api
                return obs
        if self.api is None:
            raise FingerprintError(
                "the endpoint answered neither /v1/completions nor /v1/chat/completions usefully; "
                "check the URL, --model and the API key"
            )
        return None

    def _try(self, api: str, probe_id: str, text: str) -> Observation | None:
        if api == "completions-echo":
            return self._completions_echo(probe_id, text)
        if api.endswith("-text"):
            text = open_ended(text)
        if api == "completions-text":
            body = {"model": self.model, "prompt": text, "max_tokens": self.chat_tokens,
                    "temperature": 0}  # fmt: skip
            status, doc = self._call("/completions", body)
            if status != 200 or not isinstance(doc, dict) or not doc.get("choices"):
                self.notes.append(f"{api}: HTTP {status}")
                return None
            out = doc["choices"][0].get("text")
            if not isinstance(out, str) or not out:
                return None
            return Observation(probe_id, api, text, None, (), out)
        messages = ({"role": "user", "content": text},)
        body: dict[str, Any] = {"model": self.model, "messages": list(messages), "temperature": 0,
                                "max_tokens": self.chat_tokens}  # fmt: skip
        if api == "chat-logprobs":
            body.update(logprobs=True, top_logprobs=self.top_k)
        status, doc = self._call("/chat/completions", body)
        if status != 200 or not isinstance(doc, dict) or not doc.get("choices"):
            self.notes.append(f"{api}: HTTP {status}")
            return None
        choice = doc["choices"][0]
        if api == "chat-text":
            content = (choice.get("message") or {}).get("content")
            if not isinstance(content, str) or not content:
                return None
            return Observation(probe_id, api, None, messages, (), content)
        items = ((choice.get("logprobs") or {}).get("content")) or []
        tokens = tuple(
            ObservedToken(str(it["token"]), float(it["logprob"]),
                          tuple((str(t["token"]), float(t["logprob"]))
                                for t in it.get("top_logprobs") or []))
            for it in items if isinstance(it, dict) and "token" in it and "logprob" in it
        )  # fmt: skip
        if not tokens:
            self.notes.append("chat-logprobs: no logprobs in the reply")
            return None
        return Observation(probe_id, api, None, messages, tokens)

    def _completions_echo(self, probe_id: str, text: str) -> Observation | None:
        for max_tokens in (0, 1):
            body = {"model": self.model, "prompt": text, "echo": True, "logprobs": self.top_k,
                    "max_tokens": max_tokens, "temperature": 0}  # fmt: skip
            status, doc = self._call("/completions", body)
            if status == 200 and isinstance(doc, dict) and doc.get("choices"):
                obs = parse_echo(probe_id, text, doc["choices"][0], max_tokens)
                if obs is None:
                    self.notes.append("completions-echo: no prompt logprobs in the reply")
                return obs
            self.notes.append(f"completions-echo (max_tokens={max_tokens}): HTTP {status}")
            if status in (404, 405, 501):
                return None
        return None


def parse_echo(
    probe_id: str, prompt: str, choice: Mapping[str, Any], generated: int
) -> Observation | None:
    """The prompt tokens of an echo reply (generated tokens dropped); None without logprobs."""
    lp = choice.get("logprobs") or {}
    tokens, values, tops = lp.get("tokens"), lp.get("token_logprobs"), lp.get("top_logprobs")
    if not (isinstance(tokens, list) and isinstance(values, list) and isinstance(tops, list)):
        return None
    n = len(tokens) - generated if generated and len(tokens) > 1 else len(tokens)
    out = []
    for i in range(n):
        top = tops[i] or {}
        ranked = sorted(((str(k), float(v)) for k, v in top.items()), key=lambda t: -t[1])
        value = values[i]
        out.append(
            ObservedToken(str(tokens[i]), None if value is None else float(value), tuple(ranked))
        )
    if len(out) < 2 or all(t.logprob is None for t in out[1:]):
        return None
    return Observation(probe_id, "completions-echo", prompt, None, tuple(out))


def http_post(
    base_url: str, *, api_key: str | None, timeout: float = 120.0, max_requests: int | None = None
) -> tuple[Post, EndpointClient]:
    """A ``post`` callable over HTTP (the shared client: retries, budget) and the client to
    close afterwards. ``base_url`` is the OpenAI-style base (``…/v1``; a bare host gets it)."""
    client = EndpointClient(
        base_url, api="openai", api_key=api_key, timeout=timeout, max_requests=max_requests
    )

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        answer = client.post(path, body)
        return answer.status, answer.doc

    return post, client


def service_post(service: Any) -> Post:
    """A ``post`` callable over an in-process ``ReferenceService`` (no HTTP)."""
    from provenance.reference.server import RequestError

    routes = {"/completions": service.completions, "/chat/completions": service.chat}

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        try:
            return 200, routes[path](body)
        except RequestError as exc:
            return 400, {"error": {"message": str(exc)}}

    return post


def open_ended(text: str) -> str:
    """The first two thirds of ``text``'s words: greedy probes continue mid-sentence, where a
    model's own preferences show, rather than after a full stop."""
    words = text.split(" ")
    return " ".join(words[: max(3, len(words) * 2 // 3)])


def select_probes(probes: Sequence[Mapping[str, str]], limit: int) -> list[Mapping[str, str]]:
    """The first ``limit`` probes (the probe file is ordered by usefulness)."""
    return list(probes[: max(0, limit)])


class ChannelProber:
    """The prober's interface over a probe channel (a product replayed or guided, or an API
    channel): chat turns only, so ``chat-logprobs`` where the reply carries logprobs, else
    ``chat-text`` (greedy text). No echo, hence no under-trained-token probes. A product's own
    hidden system prompt stays in front of every probe; comparing its continuations with bare
    references is the weaker text-only evidence the consensus method weighs as such."""

    def __init__(
        self, channel: Any, *, max_requests: int = 32, top_k: int = 5, chat_tokens: int = 32
    ) -> None:
        self.channel = channel
        self.model = channel.describe().get("model")
        self.max_requests = max_requests
        self.top_k = top_k
        self.chat_tokens = chat_tokens
        self.api: str | None = None
        self.notes: list[str] = []
        channel.set_budget(max_requests)

    @property
    def requests(self) -> int:
        return int(self.channel.requests_sent)

    def probe(self, probe_id: str, text: str) -> Observation | None:
        """One probe through the channel; None when the reply was unusable (noted)."""
        from provenance.fingerprint.channel import ChannelError, Probe

        sent = open_ended(text) if self.api == "chat-text" else text
        try:
            reply = self.channel.send(
                Probe(sent, id=probe_id, max_tokens=self.chat_tokens, temperature=0.0,
                      top_logprobs=self.top_k)
            )  # fmt: skip
        except ChannelError as exc:
            self.notes.append(f"{probe_id}: {exc}")
            return None
        if reply.error is not None:
            self.notes.append(f"{probe_id}: {reply.error}")
            return None
        messages = ({"role": "user", "content": sent},)
        if reply.logprobs:
            self.api = self.api or "chat-logprobs"
            tokens = tuple(ObservedToken(t.text, t.logprob, t.top) for t in reply.logprobs)
            return Observation(probe_id, "chat-logprobs", None, messages, tokens)
        if not reply.text:
            self.notes.append(f"{probe_id}: the reply carried no text")
            return None
        self.api = self.api or "chat-text"
        return Observation(probe_id, "chat-text", None, messages, (), reply.text)
