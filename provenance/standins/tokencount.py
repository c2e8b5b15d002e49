"""A local stand-in LLM endpoint that reports real token counts (tests, benchmark, demos).

It serves, on a loopback port, OpenAI ``/v1/chat/completions``, Anthropic ``/v1/messages``,
Gemini ``/v1beta/models/{model}:generateContent`` (``/v1/`` too) and Bedrock
``/model/{modelId}/converse``, and, unless ``count_tokens`` is off, their counting endpoints
(``/v1/messages/count_tokens``, ``:countTokens``, ``/model/{modelId}/count-tokens``). Prompt
tokens are counted with a real tokenizer after wrapping the user message the way a real server
would: a chat template, a hidden system prompt and a per-message overhead, all drawn from a seed.
The fingerprint code never imports this module and never sees the seed; it only sees the HTTP
answers.

Usage is reported in each API's own shape. With ``cached_tokens`` set, that many prompt tokens
are reported as read from a prompt cache: inside ``prompt_tokens`` for OpenAI
(``prompt_tokens_details.cached_tokens``) and ``promptTokenCount`` for Gemini
(``cachedContentTokenCount``), but *outside* ``input_tokens`` for Anthropic
(``cache_read_input_tokens``) and ``inputTokens`` for Bedrock (``cacheReadInputTokens``), as
those APIs do. A request that asks for logprobs (OpenAI ``logprobs``, Gemini
``generationConfig.responseLogprobs``) gets :data:`CANNED_LOGPROBS`.

With ``api_key`` given, every request must carry it the API's way (``Authorization: Bearer`` for
OpenAI and Bedrock, ``x-api-key`` for Anthropic, ``x-goog-api-key`` or ``?key=`` for Gemini) or
is refused as that API refuses it (401, or Gemini's 400 ``API key not valid``).

Counting styles (``EndpointConfig.counting``):

* ``rendered-parsed``: the whole rendered prompt is tokenized with special spellings parsed (a
  server that renders a template to text and tokenizes it, as many open-source servers do);
* ``segments``: template pieces are tokenized with specials parsed, the user text as plain text
  (a server that never lets user text produce control tokens);
* ``rendered-text``: the whole rendered prompt is tokenized as plain text.

``fault`` makes the endpoint misbehave: ``no-usage``, ``http-500``, ``non-json``, ``rate-limit``
(429 with ``Retry-After: 0`` for the first ``fault_count`` requests), ``constant`` (always 1000).
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TEMPLATES: dict[str, tuple[str, str, str]] = {
    # name: (before system, between system and user, after user)
    "chatml": (
        "<|im_start|>system\n",
        "<|im_end|>\n<|im_start|>user\n",
        "<|im_end|>\n<|im_start|>assistant\n",
    ),
    "llama3": (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n",
        "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    "mistral": ("<s>[INST] ", "\n\n", "[/INST]"),
    "plain": ("System: ", "\n\nUser: ", "\n\nAssistant:"),
    "harmony": (
        "<|start|>system<|message|>",
        "<|end|><|start|>user<|message|>",
        "<|end|><|start|>assistant",
    ),
    "deepseek": ("<｜begin▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"),
}
COUNTING = ("rendered-parsed", "segments", "rendered-text")
_WORDS = [
    "you",
    "are",
    "a",
    "careful",
    "coding",
    "assistant",
    "follow",
    "the",
    "rules",
    "below",
    "never",
    "reveal",
    "these",
    "instructions",
    "answer",
    "in",
    "the",
    "language",
    "of",
    "the",
    "user",
    "prefer",
    "short",
    "code",
    "blocks",
    "tools",
    "files",
    "repository",
    "tests",
    "2026",
    "🙂",
    "λ",
    "ü",
    "中文",
    "データ",
    "`code`",
    "{json}",
    "12345",
]

Counter = Callable[[str, bool], int]
# The generated reply "OK" with its top alternatives: exact binary fractions.
CANNED_LOGPROBS: tuple[tuple[str, float], ...] = (("OK", -0.25), ("Ok", -1.5), (" OK", -2.0))
_GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^/:]+):(?P<method>\w+)$")
_BEDROCK_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<method>converse|count-tokens)$")


@dataclass(frozen=True)
class EndpointConfig:
    """Everything hidden behind the endpoint."""

    template: str
    counting: str
    system_prompt: str
    overhead: int
    count_tokens: bool = True
    fault: str | None = None
    fault_count: int = 1
    cached_tokens: int = 0

    @classmethod
    def from_seed(cls, seed: int, *, system_tokens: int | None = None) -> EndpointConfig:
        """A random but reproducible configuration (system prompt of roughly ``system_tokens``)."""
        rng = random.Random(seed)
        size = rng.choice([0, 50, 500, 2000, 8000]) if system_tokens is None else system_tokens
        return cls(
            template=rng.choice(sorted(TEMPLATES)),
            counting=rng.choice(COUNTING),
            system_prompt=hidden_system_prompt(rng, size),
            overhead=rng.randrange(0, 8),
            count_tokens=rng.random() < 0.5,
        )


def hidden_system_prompt(rng: random.Random, approx_tokens: int) -> str:
    """Roughly ``approx_tokens`` tokens of instruction-like text (0: empty)."""
    if approx_tokens <= 0:
        return ""
    words = [rng.choice(_WORDS) for _ in range(max(1, int(approx_tokens * 0.8)))]
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    return "\n".join(lines)


def prompt_tokens(counter: Counter, config: EndpointConfig, user_text: str) -> int:
    """The count the stand-in reports for one user message."""
    before, middle, after = TEMPLATES[config.template]
    system = config.system_prompt
    if config.counting == "segments":
        total = counter(before, True) + counter(system, False) + counter(middle, True)
        total += counter(user_text, False) + counter(after, True)
    else:
        parse = config.counting == "rendered-parsed"
        total = counter(before + system + middle + user_text + after, parse)
    return total + config.overhead


class StandInServer:
    """Run the stand-in on ``127.0.0.1:0`` in a thread; use as a context manager.

    ``requests`` lists the request paths in order (as sent, percent-encoding kept)."""

    def __init__(self, counter: Counter, config: EndpointConfig, *, api_key: str | None = None):
        self.counter = counter
        self.config = config
        self.api_key = api_key
        self.requests: list[str] = []  # request paths, in order
        self._faults_left = config.fault_count
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StandInServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _answer(
        self, path: str, query: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(path)
        route = _route(path)
        if route is None:
            return 404, {}, b'{"error":{"message":"unknown path"}}'
        api, kind, model = route
        if self.api_key is not None and _key_sent(api, headers, query) != self.api_key:
            return _REFUSALS[api]
        with self._lock:
            fault = self.config.fault
            if fault == "rate-limit" and self._faults_left > 0:
                self._faults_left -= 1
                return 429, {"retry-after": "0"}, b'{"error":{"message":"slow down"}}'
        if kind == "count" and not self.config.count_tokens:
            return _NOT_FOUND[api]
        if fault == "http-500":
            return 500, {}, b'{"error":{"message":"internal error"}}'
        if fault == "non-json":
            return 200, {"content-type": "text/html"}, b"<html>maintenance</html>"
        text = _user_text(api, kind, body)
        n = 1000 if fault == "constant" else prompt_tokens(self.counter, self.config, text)
        doc = _REPLIES[api](kind, n, min(self.config.cached_tokens, n), model, body)
        if fault == "no-usage":
            for key in ("usage", "input_tokens", "usageMetadata", "totalTokens", "inputTokens"):
                doc.pop(key, None)
        return 200, {"content-type": "application/json"}, json.dumps(doc).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                if not isinstance(body, dict):
                    body = {}
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra, payload = server._answer(parts.path, parts.query, headers, body)
                self.send_response(status)
                extra.setdefault("content-type", "application/json")
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        return Handler


# ------------------------------------------------------------------------------ the four APIs


def _route(path: str) -> tuple[str, str, str | None] | None:
    """``(api, "generate" | "count", model id from the URL)`` for a path the stand-in serves."""
    if path == "/v1/chat/completions":
        return "openai", "generate", None
    if path == "/v1/messages":
        return "anthropic", "generate", None
    if path == "/v1/messages/count_tokens":
        return "anthropic", "count", None
    m = _GEMINI_PATH.match(path)
    if m and m["method"] in ("generateContent", "countTokens"):
        kind = "generate" if m["method"] == "generateContent" else "count"
        return "gemini", kind, unquote(m["model"])
    m = _BEDROCK_PATH.match(path)
    if m:
        kind = "generate" if m["method"] == "converse" else "count"
        return "bedrock", kind, unquote(m["model"])
    return None


def _key_sent(api: str, headers: dict[str, str], query: str) -> str | None:
    if api == "anthropic":
        return headers.get("x-api-key")
    if api == "gemini":
        return headers.get("x-goog-api-key") or (parse_qs(query).get("key") or [None])[0]
    bearer = headers.get("authorization", "")
    return bearer[len("Bearer ") :] if bearer.startswith("Bearer ") else None


def _error(status: int, doc: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {}, json.dumps(doc).encode()


_REFUSALS = {
    "openai": _error(
        401,
        {
            "error": {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        },
    ),
    "anthropic": _error(
        401,
        {
            "type": "error",
            "error": {"type": "authentication_error", "message": "invalid x-api-key"},
        },
    ),
    "gemini": _error(
        400,
        {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
            }
        },
    ),
    "bedrock": _error(403, {"message": "The security token included in the request is invalid."}),
}
_NOT_FOUND = {
    "openai": _error(404, {"error": {"message": "unknown path"}}),
    "anthropic": _error(404, {"error": {"type": "not_found_error", "message": "no such route"}}),
    "gemini": _error(
        404, {"error": {"code": 404, "message": "no such method", "status": "NOT_FOUND"}}
    ),
    "bedrock": _error(404, {"message": "no such route"}),
}


def _texts(items: object, key: str) -> str:
    """The ``text`` of every ``items[i][key][j]`` (Gemini ``parts``, Bedrock ``content``)."""
    out = []
    for item in items if isinstance(items, list) else []:
        blocks = item.get(key) if isinstance(item, dict) else None
        for block in blocks if isinstance(blocks, list) else []:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                out.append(block["text"])
    return "".join(out)


def _user_text(api: str, kind: str, body: dict[str, Any]) -> str:
    """The user text of a request, read the way its API puts it."""
    if api == "gemini":
        return _texts(body.get("contents"), "parts")
    if api == "bedrock":
        if kind == "count":
            node: object = body.get("input")  # {"input": {"converse": {"messages": [...]}}}
            for key in ("converse", "messages"):
                node = node.get(key) if isinstance(node, dict) else None
            return _texts(node, "content")
        return _texts(body.get("messages"), "content")
    messages = body.get("messages") or []
    return "".join(
        m.get("content", "") if isinstance(m.get("content"), str) else ""
        for m in messages
        if isinstance(m, dict)
    )


def _top(body_k: object) -> list[tuple[str, float]]:
    k = body_k if isinstance(body_k, int) and not isinstance(body_k, bool) else 0
    return list(CANNED_LOGPROBS[: max(0, k)])


def _openai_reply(kind: str, n: int, cached: int, model: str | None, body: dict) -> dict:
    usage: dict[str, Any] = {"prompt_tokens": n, "completion_tokens": 1, "total_tokens": n + 1}
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": "OK"},
        "finish_reason": "length",
    }
    if body.get("logprobs") is True:
        token, logprob = CANNED_LOGPROBS[0]
        top = [
            {"token": t, "logprob": lp, "bytes": list(t.encode())}
            for t, lp in _top(body.get("top_logprobs"))
        ]
        entry = {"token": token, "logprob": logprob, "bytes": list(token.encode())}
        choice["logprobs"] = {"content": [{**entry, "top_logprobs": top}]}
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "model": body.get("model"),
        "choices": [choice],
        "usage": usage,
    }


def _anthropic_reply(kind: str, n: int, cached: int, model: str | None, body: dict) -> dict:
    if kind == "count":
        return {"input_tokens": n}
    usage: dict[str, Any] = {"input_tokens": n - cached, "output_tokens": 1}
    if cached:
        usage.update(cache_read_input_tokens=cached, cache_creation_input_tokens=0)
    return {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": [{"type": "text", "text": "OK"}],
        "stop_reason": "max_tokens",
        "usage": usage,
    }


def _gemini_reply(kind: str, n: int, cached: int, model: str | None, body: dict) -> dict:
    if kind == "count":
        return {"totalTokens": n}
    usage: dict[str, Any] = {"promptTokenCount": n, "candidatesTokenCount": 1}
    usage["totalTokenCount"] = n + 1
    if cached:
        usage["cachedContentTokenCount"] = cached
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": [{"text": "OK"}]},
        "finishReason": "MAX_TOKENS",
        "index": 0,
    }
    config = body.get("generationConfig")
    if isinstance(config, dict) and config.get("responseLogprobs") is True:
        token, logprob = CANNED_LOGPROBS[0]
        top = [{"token": t, "logProbability": lp} for t, lp in _top(config.get("logprobs"))]
        candidate["logprobsResult"] = {
            "topCandidates": [{"candidates": top}],
            "chosenCandidates": [{"token": token, "logProbability": logprob}],
        }
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "standin",
    }


def _bedrock_reply(kind: str, n: int, cached: int, model: str | None, body: dict) -> dict:
    if kind == "count":
        return {"inputTokens": n}
    usage: dict[str, Any] = {"inputTokens": n - cached, "outputTokens": 1, "totalTokens": n + 1}
    if cached:
        usage.update(cacheReadInputTokens=cached, cacheWriteInputTokens=0)
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": "OK"}]}},
        "stopReason": "max_tokens",
        "usage": usage,
        "metrics": {"latencyMs": 1},
    }


_REPLIES: dict[str, Callable[[str, int, int, str | None, dict], dict]] = {
    "openai": _openai_reply,
    "anthropic": _anthropic_reply,
    "gemini": _gemini_reply,
    "bedrock": _bedrock_reply,
}


def chunk_stream(handle: Any, text: str, tokens_per_chunk: int = 1, *, seed: int | None = None):
    """The text pieces a streaming server sends for ``text`` generated with ``handle``'s tokens.

    Like vLLM's incremental detokenizer: after every ``tokens_per_chunk`` tokens (or a random
    1…``tokens_per_chunk`` when ``seed`` is given) the decoded text so far is sent, holding back
    the bytes of a character that is not complete yet.
    """
    rng = random.Random(seed) if seed is not None else None
    pending = b""
    pieces: list[str] = []
    count = 0
    size = tokens_per_chunk if rng is None else rng.randint(1, tokens_per_chunk)
    for token in handle.encode(text):
        pending += handle.piece(token)
        count += 1
        if count < size:
            continue
        try:
            decoded = pending.decode("utf-8")
        except UnicodeDecodeError:
            continue
        pieces.append(decoded)
        pending, count = b"", 0
        size = tokens_per_chunk if rng is None else rng.randint(1, tokens_per_chunk)
    if pending:
        pieces.append(pending.decode("utf-8", "replace"))
    if pieces and pieces[0].startswith(" ") and not text.startswith(" "):
        pieces[0] = pieces[0][1:]  # a SentencePiece dummy prefix is not part of the output
    return pieces
