"""A local stand-in LLM endpoint that reports real token counts (tests, benchmark, demos).

It serves OpenAI ``/v1/chat/completions`` and Anthropic ``/v1/messages`` (and, unless disabled,
``/v1/messages/count_tokens``) on a loopback port, counting prompt tokens with a real tokenizer
after wrapping the user message the way a real server would: a chat template, a hidden system
prompt and a per-message overhead, all drawn from a seed. The fingerprint code never imports this
module and never sees the seed; it only sees the HTTP answers.

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
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

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
    """Run the stand-in on ``127.0.0.1:0`` in a thread; use as a context manager."""

    def __init__(self, counter: Counter, config: EndpointConfig) -> None:
        self.counter = counter
        self.config = config
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

    def _answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(path)
            fault = self.config.fault
            if fault == "rate-limit" and self._faults_left > 0:
                self._faults_left -= 1
                return 429, {"retry-after": "0"}, b'{"error":{"message":"slow down"}}'
        if path == "/v1/messages/count_tokens" and not self.config.count_tokens:
            return 404, {}, b'{"error":{"type":"not_found_error","message":"no such route"}}'
        if fault == "http-500":
            return 500, {}, b'{"error":{"message":"internal error"}}'
        if fault == "non-json":
            return 200, {"content-type": "text/html"}, b"<html>maintenance</html>"
        messages = body.get("messages") or []
        text = "".join(
            m.get("content", "") if isinstance(m.get("content"), str) else ""
            for m in messages
            if isinstance(m, dict)
        )
        n = 1000 if fault == "constant" else prompt_tokens(self.counter, self.config, text)
        if path == "/v1/chat/completions":
            doc: dict[str, Any] = {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "OK"},
                        "finish_reason": "length",
                    }
                ],
                "usage": {"prompt_tokens": n, "completion_tokens": 1, "total_tokens": n + 1},
            }
        elif path == "/v1/messages/count_tokens":
            doc = {"input_tokens": n}
        elif path == "/v1/messages":
            doc = {
                "id": "msg_standin",
                "type": "message",
                "role": "assistant",
                "model": body.get("model"),
                "content": [{"type": "text", "text": "OK"}],
                "stop_reason": "max_tokens",
                "usage": {"input_tokens": n, "output_tokens": 1},
            }
        else:
            return 404, {}, b'{"error":{"message":"unknown path"}}'
        if fault == "no-usage":
            doc.pop("usage", None)
            doc.pop("input_tokens", None)
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
                status, headers, payload = server._answer(urlsplit(self.path).path, body)
                self.send_response(status)
                headers.setdefault("content-type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        return Handler


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
