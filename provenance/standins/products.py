"""Stand-in AI *products* on loopback: their own APIs, a hidden prompt, real token counts.

A product is not a provider API. It wraps the user's text in a hidden system prompt of a few
thousand tokens (seeded instruction text plus a fake tool-definition block), renders the turn
with a chat template of :data:`provenance.standins.tokencount.TEMPLATES`, counts the prompt with a
real tokenizer and answers by streaming the user's text back, one piece per tokenizer token
(issue 26: the tokenizer fingerprint run *through* a product). Any of the three products can be
mounted on one :class:`ProductServer`:

* :class:`ConnectProduct`: the Connect RPC ``aiserver.v1.ChatService/StreamUnifiedChatWithTools``
  in its published layout (see :mod:`.provider`); no usage unless ``usage=True``;
* :class:`AgentProduct`: an API no catalog knows, ``POST /api/agent/turn``, JSON in, SSE out,
  usage as ``meter.in``/``meter.out`` in the last frame;
* :class:`GatewayProduct`: Anthropic's ``POST /v1/messages`` (JSON or SSE) with the hidden
  prompt put before the client's ``system``, optionally with prompt-caching usage.

Counts are exact per segment by default (``counting="segments"``: template pieces parsed for
specials, every text on its own), so between two probes that differ only in the last user text
the reported count moves by exactly ``tokenizer.count(b) - tokenizer.count(a)``, while the
absolute count is thousands of tokens away from the probe's own. The fingerprint code never
imports this module; tests read the ground truth of each request from
:attr:`ProductServer.requests` (what was counted, whether reported or not).
"""

from __future__ import annotations

import gzip
import json
import random
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from provenance.standins.provider import (
    CONNECT_PATH,
    connect_conversation,
    connect_frame,
    connect_text_frame,
)
from provenance.standins.tokencount import COUNTING, TEMPLATES, hidden_system_prompt
from provenance.tokenizers.handle import TokenizerHandle

AGENT_PATH = "/api/agent/turn"
GATEWAY_PATH = "/v1/messages"
MAX_TOKENS = 200  # the longest echo a product streams (its "max output tokens")

_TOOLS = ("read_file", "edit_file", "run_terminal", "grep_search", "list_dir", "web_search")


def tool_block(rng: random.Random) -> str:
    """A fake tool-definition block, JSON schemas as agent products put in their prompts."""
    tools = []
    for name in _TOOLS:
        props = {
            arg: {"type": rng.choice(["string", "integer", "boolean"]), "description": desc}
            for arg, desc in [
                ("path", "Path relative to the workspace root."),
                ("query", "What to look for; regular expressions are allowed."),
                ("limit", f"At most this many results (default {rng.randrange(10, 500)})."),
            ][: rng.randint(1, 3)]
        }
        tools.append(
            {
                "name": name,
                "description": f"Use {name} when the user's task needs it; never guess results.",
                "input_schema": {"type": "object", "properties": props, "required": ["path"]},
            }
        )
    return "# Tools\n\n" + json.dumps(tools, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class Wrapping:
    """What a product puts around the user's text before its model sees it (hidden)."""

    tokenizer: TokenizerHandle
    system_prompt: str
    template: str = "chatml"
    counting: str = "segments"
    overhead: int = 3

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise ValueError(f"unknown template {self.template!r} (one of {sorted(TEMPLATES)})")
        if self.counting not in COUNTING:
            raise ValueError(f"unknown counting {self.counting!r} (one of {list(COUNTING)})")
        if self.tokenizer.piece is None:
            raise ValueError(f"{self.tokenizer.name}: the tokenizer gives no token bytes")

    @classmethod
    def seeded(
        cls,
        tokenizer: TokenizerHandle,
        *,
        system_tokens: int = 3000,
        seed: int = 0,
        template: str = "chatml",
        counting: str = "segments",
    ) -> Wrapping:
        """A hidden prompt of about ``system_tokens`` tokens: instructions, then the tool block."""
        rng = random.Random(seed)
        tools = tool_block(rng)
        words = hidden_system_prompt(rng, max(0, system_tokens - tokenizer.count(tools)))
        system = f"{words}\n\n{tools}" if words else tools
        return cls(tokenizer, system, template=template, counting=counting)

    def _parts(self, turns: Sequence[tuple[str, str]], extra: str) -> list[tuple[str, bool]]:
        """The rendered prompt as ``(text, is_template)`` parts, in order."""
        before, middle, after = TEMPLATES[self.template]
        parts = [(before, True), (self.system_prompt, False)]
        if extra:
            parts.append(("\n\n" + extra, False))
        for role, text in turns:
            if role == "assistant":
                parts.append((text, False))
            else:
                parts += [(middle, True), (text, False), (after, True)]
        return parts

    def _count(self, parts: Iterable[tuple[str, bool]]) -> int:
        count = self.tokenizer.count
        if self.counting == "segments":
            return sum(count(text, specials=tpl) for text, tpl in parts if text)
        return count("".join(t for t, _ in parts), specials=self.counting == "rendered-parsed")

    def prompt_tokens(self, turns: Sequence[tuple[str, str]], extra_system: str = "") -> int:
        """Tokens of the whole prompt: ``turns`` are ``(role, text)`` oldest first, the last one
        the user's; ``extra_system`` is a system prompt the client sent (after the hidden one)."""
        return self._count(self._parts(turns, extra_system)) + self.overhead

    def prefix_tokens(self) -> int:
        """Tokens of the part every request shares (template start + hidden prompt): what a
        product with prompt caching reads from its cache."""
        return self._count(self._parts((), "")[:2])


def token_pieces(
    tokenizer: TokenizerHandle, text: str, max_tokens: int = MAX_TOKENS
) -> tuple[list[str], int]:
    """``(pieces, tokens)``: how a streaming server sends ``text`` generated token by token.

    At most ``max_tokens`` tokens; one piece per token, except that a token whose bytes end
    inside a character waits for the next ones (pieces are whole characters). Bytes of a
    character cut off by ``max_tokens`` are held back, never sent. A SentencePiece dummy-prefix
    space is dropped, as servers do.
    """
    assert tokenizer.piece is not None  # Wrapping checks it
    ids = tokenizer.encode(text)[:max_tokens]
    pieces: list[str] = []
    pending = b""
    for token in ids:
        pending += tokenizer.piece(token)
        try:
            pieces.append(pending.decode("utf-8"))
        except UnicodeDecodeError:
            continue
        pending = b""
    if pieces and pieces[0].startswith(" ") and not text.startswith(" "):
        pieces[0] = pieces[0][1:]
    return [p for p in pieces if p], len(ids)


# --------------------------------------------------------------------------- requests, replies


@dataclass(frozen=True)
class Incoming:
    """One request as a product sees it (header names lower-case)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Counted:
    """What a request counted (the ground truth, reported or not)."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    chunks: list[bytes]
    stream: bool = False
    counted: Counted | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """One request a :class:`ProductServer` answered (for tests)."""

    product: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    counted: Counted | None


class Product(Protocol):
    name: str
    routes: tuple[str, ...]

    def answer(self, request: Incoming) -> Reply: ...


def _json_reply(status: int, doc: dict[str, Any]) -> Reply:
    return Reply(status, "application/json", [json.dumps(doc).encode()])


def _sse(doc: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(doc, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("the body is not JSON") from exc
    if not isinstance(doc, dict):
        raise ValueError("the body is not a JSON object")
    return doc


# --------------------------------------------------------------------------- (a) Connect


class ConnectProduct:
    """``POST /aiserver.v1.ChatService/StreamUnifiedChatWithTools`` (Connect, protobuf).

    Request: Connect envelopes (``application/connect+proto``); a frame with flag 0x01 is
    gzip-compressed when ``connect-content-encoding: gzip`` says so. The message is
    ``StreamUnifiedChatRequestWithTools``: conversation at 1.1 (text 1.1.1, type 1.1.2), model at
    1.5.1. Reply (HTTP 200, uncompressed): one envelope per piece with the text at 2.1, then the
    end-stream envelope (flag 0x02): ``{}``, or with ``usage=True``
    ``{"metadata": {"x-usage-prompt-tokens": ["N"]}}`` (the published schema has no usage
    field, so a client sees counts only there, and never completion tokens). Errors follow
    Connect's streaming protocol: HTTP 200 and ``{"error": {"code", "message"}}`` in the
    end-stream envelope (``unauthenticated`` when ``token`` is set and ``authorization:
    Bearer <token>`` is not sent, ``invalid_argument`` for a bad body); a content type other
    than ``application/connect+proto`` gets HTTP 415.
    """

    name = "connect"
    routes = (CONNECT_PATH,)

    def __init__(
        self,
        wrapping: Wrapping,
        *,
        token: str | None = None,
        usage: bool = False,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        self.wrapping, self.token, self.usage, self.max_tokens = wrapping, token, usage, max_tokens

    @staticmethod
    def _end(error: tuple[str, str] | None = None, metadata: dict | None = None) -> bytes:
        doc: dict[str, Any] = {}
        if error:
            doc["error"] = {"code": error[0], "message": error[1]}
        if metadata:
            doc["metadata"] = metadata
        return connect_frame(json.dumps(doc, separators=(",", ":")).encode(), flags=0x02)

    def _error(self, code: str, message: str) -> Reply:
        return Reply(200, "application/connect+proto", [self._end((code, message))])

    def answer(self, request: Incoming) -> Reply:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/connect+proto":
            return Reply(415, "text/plain", [b"expected application/connect+proto"])
        if self.token and request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error("unauthenticated", "missing or invalid bearer token")
        try:
            message = self._message(request)
            _, conversation = connect_conversation(message)
        except (ValueError, UnicodeDecodeError, OSError, EOFError, zlib.error) as exc:
            return self._error("invalid_argument", f"bad request message: {exc}")
        if not conversation or conversation[-1][0] != 1:
            return self._error("invalid_argument", "the conversation must end with a user message")
        turns = [("assistant" if kind == 2 else "user", text) for kind, text in conversation]
        prompt = self.wrapping.prompt_tokens(turns)
        pieces, out = token_pieces(self.wrapping.tokenizer, turns[-1][1], self.max_tokens)
        metadata = {"x-usage-prompt-tokens": [str(prompt)]} if self.usage else None
        chunks = [connect_text_frame(p) for p in pieces] + [self._end(metadata=metadata)]
        return Reply(200, "application/connect+proto", chunks, True, Counted(prompt, out))

    @staticmethod
    def _message(request: Incoming) -> bytes:
        """The first data message of the request body, decompressed."""
        body = request.body
        if len(body) < 5:
            raise ValueError("no Connect envelope")
        flags, size = body[0], int.from_bytes(body[1:5], "big")
        if len(body) < 5 + size:
            raise ValueError("truncated Connect envelope")
        payload = body[5 : 5 + size]
        if flags & 0x02:
            raise ValueError("a client cannot send an end-stream envelope")
        if flags & 0x01:
            encoding = request.headers.get("connect-content-encoding", "identity").lower()
            if encoding != "gzip":
                raise ValueError(f"compressed envelope with encoding {encoding!r}")
            payload = gzip.decompress(payload)
        return payload


# --------------------------------------------------------------------------- (b) custom JSON+SSE


class AgentProduct:
    """``POST /api/agent/turn``: a JSON+SSE API unknown to any catalog.

    Request (``authorization: Bearer <token>`` required, 401 otherwise)::

        {"session": {"id": "s-1", "client": "acme-agent/3.4.1"},
         "turn": {"input": {"text": "..."},
                  "history": [{"role": "user" | "assistant", "text": "..."}]},
         "opts": {"limit": 512}}

    Reply ``text/event-stream``: ``data: {"ev":"chunk","out":{"t":"<piece>"}}`` per piece, then
    ``data: {"ev":"done","meter":{"in":N,"out":M}}`` (``meter`` left out with ``usage=False``).
    ``opts.limit`` caps the output tokens (and :data:`MAX_TOKENS`). A bad body gets 400
    ``{"error": {"code": "bad_request", "message": ...}}``.
    """

    name = "agent"
    routes = (AGENT_PATH,)

    def __init__(
        self, wrapping: Wrapping, *, token: str, usage: bool = True, max_tokens: int = MAX_TOKENS
    ) -> None:
        self.wrapping, self.token, self.usage, self.max_tokens = wrapping, token, usage, max_tokens

    def answer(self, request: Incoming) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            message = "missing or invalid bearer token"
            return _json_reply(401, {"error": {"code": "unauthorized", "message": message}})
        try:
            turns, limit = self._parse(_json_body(request.body))
        except ValueError as exc:
            return _json_reply(400, {"error": {"code": "bad_request", "message": str(exc)}})
        prompt = self.wrapping.prompt_tokens(turns)
        cap = min(limit, self.max_tokens)
        pieces, out = token_pieces(self.wrapping.tokenizer, turns[-1][1], cap)
        chunks = [_sse({"ev": "chunk", "out": {"t": p}}) for p in pieces]
        done: dict[str, Any] = {"ev": "done"}
        if self.usage:
            done["meter"] = {"in": prompt, "out": out}
        chunks.append(_sse(done))
        return Reply(200, "text/event-stream", chunks, True, Counted(prompt, out))

    @staticmethod
    def _parse(doc: dict[str, Any]) -> tuple[list[tuple[str, str]], int]:
        session, turn, opts = doc.get("session"), doc.get("turn"), doc.get("opts", {})
        if not isinstance(session, dict) or not isinstance(session.get("id"), str):
            raise ValueError("session.id must be a string")
        if not isinstance(turn, dict) or not isinstance(turn.get("input"), dict):
            raise ValueError("turn.input must be an object")
        text = turn["input"].get("text")
        if not isinstance(text, str):
            raise ValueError("turn.input.text must be a string")
        history = turn.get("history", [])
        if not isinstance(history, list):
            raise ValueError("turn.history must be a list")
        turns: list[tuple[str, str]] = []
        for item in history:
            if (
                not isinstance(item, dict)
                or item.get("role") not in ("user", "assistant")
                or not isinstance(item.get("text"), str)
            ):
                raise ValueError("each turn.history item needs role user|assistant and text")
            turns.append((item["role"], item["text"]))
        limit = opts.get("limit", 512) if isinstance(opts, dict) else None
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError("opts.limit must be a positive integer")
        return [*turns, ("user", text)], limit


# --------------------------------------------------------------------------- (c) Anthropic shape


class GatewayProduct:
    """``POST /v1/messages`` in Anthropic's shape, JSON or SSE (``"stream": true``).

    The key goes in ``x-api-key`` (or ``authorization: Bearer``, which the anthropic 2.x SDK
    sends): anything else gets 401 ``authentication_error``; a bad body gets
    400 ``invalid_request_error``. The hidden prompt goes before the client's ``system``. The
    reply echoes the last user message (text blocks joined), ``stop_reason`` ``max_tokens`` when
    the request's ``max_tokens`` cut it. ``usage`` (left out with ``usage=False``):
    ``input_tokens``, ``output_tokens``, ``cache_creation_input_tokens``,
    ``cache_read_input_tokens``; with ``caching=True`` the shared prefix (template start +
    hidden prompt, :meth:`Wrapping.prefix_tokens`) is written to the cache by the first request
    and read from it by the later ones, and ``input_tokens`` counts only the rest, as Anthropic
    does: the prompt is the sum of the three.
    """

    name = "gateway"
    routes = (GATEWAY_PATH,)

    def __init__(
        self,
        wrapping: Wrapping,
        *,
        api_key: str,
        usage: bool = True,
        caching: bool = False,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        self.wrapping, self.api_key, self.usage = wrapping, api_key, usage
        self.caching, self.max_tokens = caching, max_tokens
        self._cached = False
        self._lock = threading.Lock()

    @staticmethod
    def _error(status: int, kind: str, message: str) -> Reply:
        return _json_reply(status, {"type": "error", "error": {"type": kind, "message": message}})

    def answer(self, request: Incoming) -> Reply:
        sent = request.headers.get("x-api-key")
        bearer = request.headers.get("authorization", "")
        if sent != self.api_key and bearer != f"Bearer {self.api_key}":
            return self._error(401, "authentication_error", "invalid x-api-key")
        try:
            doc = _json_body(request.body)
            system, turns, limit = self._parse(doc)
        except ValueError as exc:
            return self._error(400, "invalid_request_error", str(exc))
        prompt = self.wrapping.prompt_tokens(turns, system)
        pieces, out = token_pieces(
            self.wrapping.tokenizer, turns[-1][1], min(limit, self.max_tokens)
        )
        cut = out < len(self.wrapping.tokenizer.encode(turns[-1][1]))
        cached = created = 0
        if self.caching:
            with self._lock:
                prefix = self.wrapping.prefix_tokens()
                cached, created = (prefix, 0) if self._cached else (0, prefix)
                self._cached = True
        usage = {
            "input_tokens": prompt - cached - created,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": cached,
            "output_tokens": out,
        }
        message: dict[str, Any] = {
            "id": "msg_standin_product",
            "type": "message",
            "role": "assistant",
            "model": doc["model"],
            "content": [{"type": "text", "text": "".join(pieces)}],
            "stop_reason": "max_tokens" if cut else "end_turn",
            "stop_sequence": None,
        }
        if self.usage:
            message["usage"] = usage
        counted = Counted(prompt, out, cached)
        if not doc.get("stream"):
            return Reply(200, "application/json", [json.dumps(message).encode()], False, counted)
        return Reply(200, "text/event-stream", self._events(message, pieces), True, counted)

    def _events(self, message: dict[str, Any], pieces: list[str]) -> list[bytes]:
        start = {**message, "content": [], "stop_reason": None}
        if self.usage:
            start["usage"] = {**message["usage"], "output_tokens": 1}
        block = {"type": "text", "text": ""}
        events = [
            _sse({"type": "message_start", "message": start}, "message_start"),
            _sse(
                {"type": "content_block_start", "index": 0, "content_block": block},
                "content_block_start",
            ),
            _sse({"type": "ping"}, "ping"),
        ]
        for piece in pieces:
            delta = {"type": "text_delta", "text": piece}
            events.append(
                _sse(
                    {"type": "content_block_delta", "index": 0, "delta": delta},
                    "content_block_delta",
                )
            )
        events.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        final: dict[str, Any] = {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        }
        if self.usage:
            final["usage"] = {"output_tokens": message["usage"]["output_tokens"]}
        events += [_sse(final, "message_delta"), _sse({"type": "message_stop"}, "message_stop")]
        return events

    @staticmethod
    def _text(content: object, what: str) -> str:
        if isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise ValueError(f"{what} must be a string or a list of content blocks")
        texts = []
        for block in content:
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise ValueError(f"{what}: each content block needs a type")
            if block["type"] == "text":
                if not isinstance(block.get("text"), str):
                    raise ValueError(f"{what}: a text block needs text")
                texts.append(block["text"])
        return "".join(texts)

    def _parse(self, doc: dict[str, Any]) -> tuple[str, list[tuple[str, str]], int]:
        if not isinstance(doc.get("model"), str):
            raise ValueError("model: Field required")
        limit = doc.get("max_tokens")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError("max_tokens: must be a positive integer")
        messages = doc.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages: at least one message is required")
        turns = []
        for msg in messages:
            if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
                raise ValueError("messages: each message needs role user or assistant")
            turns.append((msg["role"], self._text(msg.get("content"), "messages.content")))
        if turns[-1][0] != "user":
            raise ValueError("messages: the last message must have role user")
        system = self._text(doc.get("system", ""), "system")
        return system, turns, limit


# --------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._send(Reply(404, "application/json", [b'{"error":"not found"}']))

    def do_POST(self) -> None:
        try:
            body = self._body()
        except ValueError:
            self.close_connection = True
            self._send(Reply(400, "application/json", [b'{"error":"unreadable body"}']))
            return
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        product = self.server.routes.get(path)
        if product is None:
            reply = Reply(404, "application/json", [b'{"error":"no such route"}'])
        else:
            try:
                reply = product.answer(Incoming("POST", path, headers, body))
            except Exception as exc:  # a stand-in must answer, whatever it was sent
                reply = _json_reply(500, {"error": f"stand-in failure: {type(exc).__name__}"})
        name = product.name if product is not None else ""
        self.server.owner._record(
            Received(name, "POST", path, headers, body, reply.status, reply.counted)
        )
        self._send(reply)

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative content-length")
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if not reply.stream:
            data = b"".join(reply.chunks)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in reply.chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Product]
    owner: ProductServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client hanging up mid-stream is normal here


class ProductServer:
    """One or more products on ``host`` (loopback) and ``port`` (0: a free one), plain HTTP.

    Use as a context manager (or :meth:`start`/:meth:`stop`); :attr:`base_url` is
    ``http://host:port``; :attr:`requests` lists every POST answered, in order.
    """

    def __init__(self, *products: Product, host: str = "127.0.0.1", port: int = 0) -> None:
        routes: dict[str, Product] = {}
        for product in products:
            for route in product.routes:
                if route in routes:
                    raise ValueError(f"two products serve {route}")
                routes[route] = product
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.routes, self._server.owner = routes, self
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def start(self) -> ProductServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="standin-products", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ProductServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
