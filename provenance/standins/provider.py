"""A local stand-in AI provider for the demo and the end-to-end tests (loopback only).

Routes (HTTP/1.1, optional TLS with a self-signed certificate):

- ``POST /v1/chat/completions`` — OpenAI-compatible, JSON or SSE (``"stream": true``); usage in the
  last SSE chunk when ``stream_options.include_usage`` is set, as OpenAI does.
- ``POST /v1/messages`` — Anthropic messages, JSON or SSE events.
- ``POST /aiserver.v1.ChatService/StreamUnifiedChatWithTools`` — Connect
  (``application/connect+proto``) server stream in the published ``aiserver.v1`` layout (request:
  conversation at 1.1, model at 1.5.1; reply: text at 2.1 per frame), then an end-stream frame.
- ``GET /v1/models`` — the served ids.

It answers ``model`` like a real provider: aliases resolve to dated snapshots (``gpt-4o`` →
``gpt-4o-2024-08-06``), any other id is echoed. The reply text echoes the last user message, so a
test can plant strings in response bodies and streams too.

Test controls, per request headers: ``x-standin-id`` (a key for :attr:`StandInProvider.sent`, the
SHA-256 of the exact body bytes written), ``x-standin-encoding`` (``gzip``, ``deflate``, ``br``
or ``zstd``: the stream is compressed incrementally and flushed per event) and
``x-standin-pause: 1`` (after the first event the server sets :attr:`first_sent`, waits up
to ``pause`` seconds for :attr:`release`, then sets :attr:`second_sending` before writing the rest).
``x-standin-replay: KEY`` streams back the SSE bytes registered in :attr:`StandInProvider.replay`.
``x-standin-token-chars: N`` streams the echo (SSE and Connect) in pieces of 1..N characters, as
a model streams tokens, instead of word by word.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import ssl
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SERVED_ALIASES: dict[str, str] = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
}
CONNECT_PATH = "/aiserver.v1.ChatService/StreamUnifiedChatWithTools"


def served_model(requested: str) -> str:
    """The id the stand-in reports for a requested id (a dated snapshot for known aliases)."""
    return SERVED_ALIASES.get(requested, requested)


# --------------------------------------------------------------------------- protobuf + Connect


def varint(value: int) -> bytes:
    """A protobuf base-128 varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pb_field(number: int, value: bytes | str | int) -> bytes:
    """Encode one protobuf field: ints as varints, str/bytes as length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint((number << 3) | 2) + varint(len(data)) + data


def pb_strings(data: bytes) -> dict[int, list[bytes]]:
    """Length-delimited fields of one message level (enough for the stand-in's needs)."""
    fields: dict[int, list[bytes]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            fields.setdefault(number, []).append(data[pos : pos + size])
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError("unsupported wire type")
    return fields


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def connect_frame(payload: bytes, *, flags: int = 0) -> bytes:
    """One Connect/gRPC envelope: flags byte, big-endian length, payload."""
    return bytes([flags]) + len(payload).to_bytes(4, "big") + payload


def pb_message(data: bytes) -> dict[int, list[bytes | int]]:
    """Every field of one message level: varints as ints, length-delimited values as bytes
    (fixed-width values as their little-endian unsigned ints). Raises ``ValueError`` when
    ``data`` is no complete protobuf message."""
    fields: dict[int, list[bytes | int]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        value: bytes | int
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            value, pos = data[pos : pos + size], pos + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > len(data):
                raise ValueError("truncated field")
            value, pos = int.from_bytes(data[pos : pos + width], "little"), pos + width
        else:
            raise ValueError("unsupported wire type")
        fields.setdefault(number, []).append(value)
    return fields


# ``aiserver.v1`` layout, from the community schema (tools/cursor-agent-tui/src/generated/
# aiserver.v1.rs in github.com/Distracted-E421/nixos-cursor, commit dd67e447):
# StreamUnifiedChatRequestWithTools.stream_unified_chat_request(1) → StreamUnifiedChatRequest
# {conversation(1): repeated ConversationMessage {text(1), type(2), bubble_id(13)},
#  model_details(5): ModelDetails {model_name(1), api_key(2)}, conversation_id(23)};
# StreamUnifiedChatResponseWithTools.stream_unified_chat_response(2) → {text(1)}.
MESSAGE_TYPES = {"user": 1, "assistant": 2, "system": 3, "tool": 4}


def _stable_id(*parts: str) -> str:
    """A UUID-shaped id derived from ``parts`` (the same request gives the same bytes)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


def connect_chat_request(
    model: str,
    text: str,
    *,
    api_key: str | None = None,
    history: Iterable[tuple[str, str]] = (),
    client_version: str | None = None,
) -> bytes:
    """One Connect envelope of ``StreamUnifiedChatRequestWithTools`` in the published layout.

    ``history`` holds the earlier turns as ``(role, text)`` pairs (``user``/``assistant``,
    types 1/2); ``text`` is the last conversation message, type 1. Each message carries a
    ``bubble_id`` (13), the request a ``conversation_id`` (23), both derived from the content.
    The model id lands at path 1.5.1, the optional bring-your-own key at 1.5.2.
    ``client_version`` is not part of the message (the real client sends it as the
    ``x-cursor-client-version`` header, see :func:`connect_headers`); it is accepted so that a
    call site can hand the same options to both, and does not change the bytes.
    """
    del client_version
    turns = [*history, ("user", text)]
    conversation = b""
    for index, (role, body) in enumerate(turns):
        if role not in MESSAGE_TYPES:
            raise ValueError(f"unknown role {role!r} (one of {sorted(MESSAGE_TYPES)})")
        message = pb_field(1, body) + pb_field(2, MESSAGE_TYPES[role])
        message += pb_field(13, _stable_id("bubble", str(index), role, body))
        conversation += pb_field(1, message)
    details = pb_field(1, model) + (pb_field(2, api_key) if api_key else b"")
    conversation_id = _stable_id("conversation", model, *(b for _, b in turns))
    request = conversation + pb_field(5, details) + pb_field(23, conversation_id)
    return connect_frame(pb_field(1, request))


def connect_headers(
    *, token: str | None = None, client_version: str | None = None
) -> dict[str, str]:
    """The headers a Connect client of this RPC sends (``authorization`` when ``token``)."""
    headers = {"content-type": "application/connect+proto", "connect-protocol-version": "1"}
    if client_version:
        headers["x-cursor-client-version"] = client_version
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def connect_text_frame(text: str) -> bytes:
    """One response envelope carrying ``text`` at the published path 2.1
    (``stream_unified_chat_response.text``)."""
    return connect_frame(pb_field(2, pb_field(1, text)))


def connect_conversation(request: bytes) -> tuple[str, list[tuple[int, str]]]:
    """``(model, [(type, text), ...])`` of one decoded ``StreamUnifiedChatRequestWithTools``
    message (no envelope); raises ``ValueError`` on anything else."""
    outer = pb_message(request)
    inner = outer.get(1, [None])[0]
    if not isinstance(inner, bytes):
        raise ValueError("no stream_unified_chat_request (field 1)")
    fields = pb_message(inner)
    turns: list[tuple[int, str]] = []
    for raw in fields.get(1, []):
        if not isinstance(raw, bytes):
            raise ValueError("conversation message is not a message")
        message = pb_message(raw)
        kind = message.get(2, [0])[0]
        body = message.get(1, [b""])[0]
        if not isinstance(kind, int) or not isinstance(body, bytes):
            raise ValueError("conversation message fields have the wrong wire types")
        turns.append((kind, body.decode("utf-8")))
    model = b""
    details = fields.get(5, [b""])[0]
    if isinstance(details, bytes) and details:
        name = pb_message(details).get(1, [b""])[0]
        model = name if isinstance(name, bytes) else b""
    return model.decode("utf-8"), turns


# --------------------------------------------------------------------------- encoders


def _encoder(name: str | None) -> Callable[[bytes, bool], bytes] | None:
    """An incremental compressor ``(chunk, last) -> bytes`` that flushes every chunk."""
    if not name:
        return None
    if name in ("gzip", "deflate"):
        comp = zlib.compressobj(wbits=31 if name == "gzip" else 15)
        return lambda b, last: (
            comp.compress(b) + comp.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        )
    if name == "br":
        import brotli

        bcomp = brotli.Compressor()
        return lambda b, last: bcomp.process(b) + (bcomp.finish() if last else bcomp.flush())
    if name == "zstd":
        import zstandard

        zcomp = zstandard.ZstdCompressor().compressobj()
        return lambda b, last: (
            zcomp.compress(b)
            + zcomp.flush(
                zstandard.COMPRESSOBJ_FLUSH_FINISH if last else zstandard.COMPRESSOBJ_FLUSH_BLOCK
            )
        )
    raise ValueError(f"unknown encoding {name}")


# --------------------------------------------------------------------------- replies


def _last_user_text(body: dict[str, Any]) -> str:
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(body.get("input") or "")


def _words(text: str, token_chars: int = 0) -> list[str]:
    """The reply, word by word; with ``token_chars`` > 0 in pieces of 1..``token_chars``
    characters instead (the way real models stream: a token is a few characters, and a key
    or a PEM block in the reply is spread over many events). Deterministic per text."""
    reply = f"Stand-in reply: {text}"
    if token_chars > 0:
        rng = random.Random(reply)
        pieces, i = [], 0
        while i < len(reply):
            n = rng.randint(1, token_chars)
            pieces.append(reply[i : i + n])
            i += n
        return pieces
    words = reply.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]


def _sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"{head}data: {payload}\n\n".encode()


def openai_events(body: dict[str, Any], token_chars: int = 0) -> Iterator[bytes]:
    model = served_model(str(body.get("model", "")))
    created = int(time.time())
    base = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    words = _words(_last_user_text(body), token_chars)
    yield _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
    for word in words:
        yield _sse({**base, "choices": [{"index": 0, "delta": {"content": word}}]})
    yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "prompt_tokens": 12,
            "completion_tokens": len(words),
            "total_tokens": 12 + len(words),
            "prompt_tokens_details": {"cached_tokens": 0},
        }
        yield _sse({**base, "choices": [], "usage": usage})
    yield _sse("[DONE]")


def openai_json(body: dict[str, Any]) -> dict[str, Any]:
    words = _words(_last_user_text(body))
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": served_model(str(body.get("model", ""))),
        "system_fingerprint": "fp_standin",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "".join(words)},
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": len(words),
            "total_tokens": 12 + len(words),
        },
    }


def anthropic_events(body: dict[str, Any], token_chars: int = 0) -> Iterator[bytes]:
    model = served_model(str(body.get("model", "")))
    words = _words(_last_user_text(body), token_chars)
    msg = {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 0},
    }
    yield _sse({"type": "message_start", "message": msg}, "message_start")
    yield _sse(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        "content_block_start",
    )
    for word in words:
        yield _sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": word},
            },
            "content_block_delta",
        )
    yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    yield _sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": len(words)},
        },
        "message_delta",
    )
    yield _sse({"type": "message_stop"}, "message_stop")


def anthropic_json(body: dict[str, Any]) -> dict[str, Any]:
    words = _words(_last_user_text(body))
    return {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": served_model(str(body.get("model", ""))),
        "content": [{"type": "text", "text": "".join(words)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": len(words)},
    }


def connect_frames(request: bytes, token_chars: int = 0) -> Iterator[bytes]:
    """The reply to one Connect request: the echo of its last user message, one text piece per
    envelope at path 2.1, then the end-stream envelope (flag 0x02, ``{}``). A body in another
    layout gets the bare ``Stand-in reply: `` (the stand-in never refuses a planted body)."""
    text = ""
    try:
        _, turns = connect_conversation(request[5:])
        text = next((body for kind, body in reversed(turns) if kind == 1), "")
    except (ValueError, UnicodeDecodeError):
        text = ""
    for word in _words(text, token_chars):
        yield connect_text_frame(word)
    yield connect_frame(b"{}", flags=0x02)


# --------------------------------------------------------------------------- server


def self_signed_cert(
    directory: Path,
    host: str = "127.0.0.1",
    *,
    names: tuple[str, ...] = (),
    common_name: str = "provenance stand-in",
    stem: str = "standin-",
) -> tuple[Path, Path]:
    """Write a self-signed certificate for ``host``, ``localhost`` and ``names`` and its key as
    ``<stem>cert.pem``/``<stem>key.pem`` in ``directory``; return (cert, key) paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    dns = list(dict.fromkeys(("localhost", *names)))
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    try:
        sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        if host not in dns:
            sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{stem}cert.pem", directory / f"{stem}key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the proxy's logs
        return

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/v1/models":
            data = [
                {"id": m, "object": "model", "owned_by": "standin"} for m in SERVED_ALIASES.values()
            ]
            self._json(200, {"object": "list", "data": data})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            raw = self._read_chunked()
        else:
            raw = self.rfile.read(length) if length else b""
        provider = self.server.provider
        provider.requests.append((self.command, self.path, list(self.headers.items()), raw))
        path = self.path.split("?")[0]
        replay = provider.replay.get(self.headers.get("x-standin-replay") or "")
        if replay is not None:
            frames = [f + b"\n\n" for f in replay.split(b"\n\n") if f]
            self._stream("text/event-stream", iter(frames))
            return
        tokens = self._token_chars()
        if path == CONNECT_PATH:
            self._stream("application/connect+proto", connect_frames(raw, tokens))
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self._json(400, {"error": {"message": "invalid JSON body"}})
            return
        if path.endswith("/chat/completions"):
            if body.get("stream"):
                self._stream("text/event-stream", openai_events(body, tokens))
            else:
                self._json(200, openai_json(body))
        elif path.endswith("/messages"):
            if body.get("stream"):
                self._stream("text/event-stream", anthropic_events(body, tokens))
            else:
                self._json(200, anthropic_json(body))
        else:
            self._json(404, {"error": {"message": f"no route {path}"}})

    def _token_chars(self) -> int:
        try:
            return max(0, int(self.headers.get("x-standin-token-chars") or 0))
        except ValueError:
            return 0

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        encode = _encoder(self.headers.get("x-standin-encoding"))
        if encode is not None:
            data = encode(data, True)
        self._record(data)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        if encode is not None:
            self.send_header("content-encoding", self.headers["x-standin-encoding"])
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, data: bytes) -> None:
        key = self.headers.get("x-standin-id")
        if key:
            self.server.provider.sent[key] = hashlib.sha256(data).hexdigest()

    def _stream(self, content_type: str, events: Iterator[bytes]) -> None:
        provider = self.server.provider
        name = self.headers.get("x-standin-encoding")
        encode = _encoder(name)
        pause = self.headers.get("x-standin-pause") == "1"
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("cache-control", "no-cache")
        if encode is not None:
            self.send_header("content-encoding", str(name))
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        digest = hashlib.sha256()
        items = list(events)
        for index, event in enumerate(items):
            data = encode(event, index == len(items) - 1) if encode is not None else event
            if data:
                digest.update(data)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
            if pause and index == 0:
                provider.first_sent.set()
                provider.release.wait(provider.pause)
                provider.second_sending.set()
        key = self.headers.get("x-standin-id")
        if key:  # recorded before the last chunk: a client that has the body finds its digest
            provider.sent[key] = digest.hexdigest()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    provider: StandInProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-stream is normal here: no traceback on stderr."""
        return


class StandInProvider:
    """The stand-in server on ``host`` (loopback) and ``port`` (0: a free one), HTTP or HTTPS.

    Use as a context manager, or :meth:`start`/:meth:`stop`. ``tls=True`` serves HTTPS with a
    fresh self-signed certificate (:attr:`cert_path`, for clients that should trust it).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, tls: bool = False, pause: float = 5.0
    ) -> None:
        self.host = host
        self.pause = pause
        self.requests: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
        self.sent: dict[str, str] = {}
        self.replay: dict[str, bytes] = {}  # x-standin-replay key -> SSE bytes to stream back
        self.first_sent = threading.Event()
        self.release = threading.Event()
        self.second_sending = threading.Event()
        self.cert_path: Path | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server = _Server((host, port), _Handler)
        self._server.provider = self
        if tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="provenance-standin-")
            cert, key = self_signed_cert(Path(self._tmp.name), host)
            self.cert_path = cert
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``scheme://host:port`` (no path)."""
        return f"{self.scheme}://{self.host}:{self.port}"

    def reset_pause(self) -> None:
        """Re-arm the pause signals for another paused request."""
        for event in (self.first_sent, self.release, self.second_sending):
            event.clear()

    def start(self) -> StandInProvider:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="standin-provider", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> StandInProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:  # pragma: no cover - manual use: python -m provenance.standins.provider
    import argparse

    parser = argparse.ArgumentParser(description="Run the stand-in provider on loopback.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args()
    with StandInProvider(port=args.port, tls=args.tls) as provider:
        print(f"stand-in provider at {provider.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
