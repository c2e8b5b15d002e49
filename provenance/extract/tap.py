"""The body tap: decode, frame and parse a body incrementally as its chunks pass by.

``BodyTap(content_type=..., content_encoding=..., role=..., max_body=..., url=...)``, then
``feed(chunk)`` for each wire chunk (still Content-Encoding-compressed) and ``finish()`` once,
which returns a :class:`TapResult`. Pipeline per chunk:

    raw bytes → SHA-256 (raw) → BodyDecoder (capped) → SHA-256 (decoded), first max_body kept
              → framer chosen by content type → each frame parsed as it completes

Framers: SSE (``text/event-stream``), Connect / gRPC / gRPC-web envelopes, the AWS event stream
(``application/vnd.amazon.eventstream``, Bedrock), a JSON array stream
(a JSON body whose first byte is ``[``), NDJSON, a whole JSON document (parsed at finish, up to
``json_cap``; beyond it the kept head and a 64 KiB tail are searched for ``"model"``), a whole
protobuf body (``application/proto``, ``application/x-protobuf``), anything else kept as is.
So the model ids and the usage in a stream's last frames survive even when only the first
``max_body`` bytes are kept. Memory is bounded by ``max_body`` plus the framers' per-frame caps,
whatever the body size. ``feed`` and ``finish`` never raise: an internal error becomes a parse
error and the tap goes passive (it keeps counting and hashing raw bytes only).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field, fields

from provenance.extract.bedrock import interpret as bedrock_event
from provenance.extract.decode import DEFAULT_DECODED_CAP, BodyDecoder
from provenance.extract.deltas import DeltaLog
from provenance.extract.documents import scan_document
from provenance.extract.envelope import Envelope, EnvelopeFramer, parse_trailers
from provenance.extract.eventstream import EventMessage, EventStreamFramer
from provenance.extract.jsonstream import JsonArrayFramer, NdjsonFramer
from provenance.extract.locate import api_from_path
from provenance.extract.modelid import looks_like_model_id
from provenance.extract.protobuf import iter_strings, parse_fields, to_projection
from provenance.extract.rpcmaps import rpc_path, scan_rpc
from provenance.extract.sse import SSEEvent, SSEFramer
from provenance.extract.usage import UsageAccumulator
from provenance.records import Observation, Source, Usage

DEFAULT_JSON_CAP = 32 * 1024 * 1024
DEFAULT_PROTO_CAP = 16 * 1024 * 1024
_TAIL = 64 * 1024
_MAX_OBSERVATIONS = 500
_MAX_ERRORS = 50
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
_PROTOBUF_TYPES = (
    "application/proto",
    "application/protobuf",
    "application/x-protobuf",
    "application/x-google-protobuf",
)
_TEXT_TYPES = ("application/xml", "application/x-www-form-urlencoded", "application/javascript")
_MODEL_FIELD = re.compile(rb'"model"\s*:\s*"([^"\\]{1,300})"')


@dataclass(slots=True)
class TapResult:
    """What a tap learned about one body.

    ``body`` is the first ``max_body`` decoded bytes; ``text`` what to store for reading (the
    decoded text, or for protobuf framings a JSON-ish projection, one frame per line; None for
    an empty or binary body); ``json_body`` says ``body`` is one complete JSON document.
    ``digest`` is SHA-256 hex of the decoded body, or of the raw bytes when decoding failed or
    hit the cap (None for an empty body). ``framing`` names the framer used. ``trailers`` are
    status fields found in the body itself (gRPC-web trailer frames, a Connect end-stream
    error), lower-case names. ``field_secrets`` are values found at protobuf field paths that
    ``fingerprints/protobuf_secrets.json`` names secret, as they appear in ``text``
    (``extract()`` replaces them by redaction tokens before anything is stored). ``docs`` maps
    the stripped text of SSE and NDJSON frames within the kept text to the JSON the tap parsed
    from it, and ``document`` holds the parsed whole JSON body, so redaction does not parse them
    again; both are read only, and not pickled.
    """

    role: str
    content_type: str | None
    framing: str
    api: str | None
    raw_size: int
    decoded_size: int
    digest: str | None
    body: bytes
    text: str | None
    json_body: bool
    truncated: bool
    observations: list[Observation] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    parse_errors: list[str] = field(default_factory=list)
    frames: int = 0
    trailers: list[tuple[str, str]] = field(default_factory=list)
    field_secrets: list[tuple[str, str]] = field(default_factory=list)
    deltas: dict[str, list[int]] | None = None  # streamed text piece lengths per channel
    docs: dict[str, object] | None = None  # parsed frames by stripped text (read only)
    document: tuple[object] | None = None  # (the parsed whole JSON body,) (read only)

    def __getstate__(self) -> list[object]:
        # ``docs`` and ``document`` serve this process's redaction: not worth pickling.
        return [None if f.name in _LOCAL else getattr(self, f.name) for f in fields(self)]

    def __setstate__(self, state: list[object]) -> None:
        for f, value in zip(fields(self), state, strict=True):
            object.__setattr__(self, f.name, value)


_LOCAL = frozenset({"docs", "document"})


def framing_for(content_type: str | None) -> str:
    """The framer for a content type: ``sse``, ``eventstream``, ``connect``, ``connect-json``,
    ``grpc``, ``grpc-web``, ``grpc-web-text``, ``json``, ``ndjson``, ``protobuf``, ``text``,
    ``binary``, or ``sniff`` (no content type: decided from the first bytes)."""
    ct = (content_type or "").split(";")[0].strip().lower()
    if not ct:
        return "sniff"
    if ct == "text/event-stream":
        return "sse"
    if ct == "application/vnd.amazon.eventstream":
        return "eventstream"
    if ct.startswith("application/connect+"):
        return "connect-json" if ct.endswith("+json") else "connect"
    if ct.startswith("application/grpc-web-text"):
        return "grpc-web-text"
    if ct.startswith("application/grpc-web"):
        return "grpc-web"
    if ct.startswith("application/grpc"):
        return "grpc-json" if ct.endswith("+json") else "grpc"
    if ct in (
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
    ):
        return "ndjson"
    if ct == "application/json" or ct.endswith("+json") or ct.endswith("/json"):
        return "json"
    if ct in (
        "application/proto",
        "application/protobuf",
        "application/x-protobuf",
        "application/x-google-protobuf",
    ):
        return "protobuf"
    if ct.startswith("text/") or ct in (
        "application/xml",
        "application/x-www-form-urlencoded",
        "application/javascript",
    ):
        return "text"
    return "binary"


class BodyTap:
    """Incremental body parser (see the module docstring). ``role`` is ``"request"`` or
    ``"response"``; ``url`` (absolute or a path) lets URL-borne context (the API) guide parsing;
    ``message_encoding`` is the per-message compression of Connect/gRPC frames
    (``connect-content-encoding`` / ``grpc-encoding``; gzip is sniffed when absent)."""

    def __init__(
        self,
        *,
        content_type: str | None,
        content_encoding: str | None,
        role: str,
        max_body: int,
        url: str | None = None,
        message_encoding: str | None = None,
        decoded_cap: int = DEFAULT_DECODED_CAP,
        json_cap: int = DEFAULT_JSON_CAP,
        delta_log: DeltaLog | None = None,
    ) -> None:
        self.role = role
        self._deltas = delta_log if delta_log is not None else DeltaLog()
        self.content_type = content_type
        self.max_body = max(int(max_body), 0)
        self._json_cap = json_cap
        self._errors: list[str] = []
        self._passive = False
        self._finished: TapResult | None = None
        self._raw_size = 0
        self._raw_hash = hashlib.sha256()
        self._dec_hash = hashlib.sha256()
        self._kept = bytearray()
        self._texts: list[str] = []  # projection lines for protobuf framings
        self._text_size = 0
        self._frames = 0
        self._observations: list[Observation] = []
        self._seen: set[tuple[str, str, str]] = set()
        self._usage = UsageAccumulator()
        self._api: str | None = None
        self._doc_api: str | None = None
        self._whole = bytearray()  # whole-body buffer for json/protobuf (bounded)
        self._whole_over = False
        self._tail = bytearray()
        self._b64_rest = b""
        self._framer: object | None = None
        self._pending = bytearray()  # bytes seen before the framing was decided
        self._rpc: str | None = None
        self._trailers: list[tuple[str, str]] = []
        self._field_secrets: list[tuple[str, str]] = []
        # Parsed SSE/NDJSON frames by their stripped text, up to max_body characters of it, so
        # redaction of the kept text need not parse them again.
        self._docs: dict[str, object] = {}
        self._docs_room = self.max_body
        self._parsed: tuple[object] | None = None
        try:
            path = _path_of(url)
            self._api = api_from_path(path, content_type) if path else None
            self._rpc = rpc_path(path)
            self._decoder = BodyDecoder(content_encoding, cap=decoded_cap, sink=self._sink)
            self.framing = framing_for(content_type)
            self._message_encoding = message_encoding
            if self.framing != "sniff":
                self._setup(self.framing)
        except Exception as exc:
            self._internal(exc)

    @classmethod
    def for_headers(
        cls, headers: list[tuple[str, str]], *, role: str, max_body: int, url: str | None = None
    ) -> BodyTap:
        """A tap configured from the body's own headers (content type and both encodings)."""
        lower = {k.strip().lower(): v for k, v in headers}
        return cls(
            content_type=lower.get("content-type"),
            content_encoding=lower.get("content-encoding"),
            role=role,
            max_body=max_body,
            url=url,
            message_encoding=lower.get("connect-content-encoding") or lower.get("grpc-encoding"),
        )

    # -- feeding ---------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        """Take one wire chunk. Never raises."""
        try:
            if not chunk or self._finished is not None:
                return
            chunk = bytes(chunk)
            self._raw_size += len(chunk)
            self._raw_hash.update(chunk)
            if self._passive:
                return
            self._decoder.feed(chunk)  # output arrives piece by piece in _sink
        except Exception as exc:
            self._internal(exc)

    def _sink(self, data: bytes) -> None:
        """Decoded output, one codec call's worth at a time (memory stays bounded)."""
        if self._passive:
            return
        try:
            self._decoded(data)
        except Exception as exc:
            self._internal(exc)

    def finish(self) -> TapResult:
        """End of body: flush decoders and framers, return the result. Never raises; calling
        it again returns the same result."""
        if self._finished is not None:
            return self._finished
        try:
            if not self._passive:
                self._decoder.finish()  # the rest arrives in _sink
                if self._decoder.error:
                    self._error(self._decoder.error)
                self._end_framing()
        except Exception as exc:
            self._internal(exc)
        self._finished = self._result()
        return self._finished

    # -- internals -------------------------------------------------------------------------
    def _setup(self, framing: str) -> None:
        self.framing = framing
        enc = self._message_encoding
        if framing == "sse":
            self._framer = SSEFramer()
        elif framing in ("connect", "connect-json"):
            self._framer = EnvelopeFramer("connect", message_encoding=enc)
        elif framing in ("grpc", "grpc-json"):
            self._framer = EnvelopeFramer("grpc", message_encoding=enc)
        elif framing in ("grpc-web", "grpc-web-text"):
            self._framer = EnvelopeFramer("grpc-web", message_encoding=enc)
        elif framing == "eventstream":
            self._framer = EventStreamFramer()
        elif framing == "ndjson":
            self._framer = NdjsonFramer()
        elif framing == "json-array":
            self._framer = JsonArrayFramer()
        if self._api is None and framing in ("connect", "connect-json"):
            self._api = "connect"

    def _decoded(self, data: bytes) -> None:
        if not data:
            return
        self._dec_hash.update(data)
        room = self.max_body - len(self._kept)
        if room > 0:
            self._kept += data[:room]
        self._route(data)

    def _route(self, data: bytes, *, final: bool = False) -> None:
        if self.framing in ("sniff", "json"):
            # Undecided: a JSON body starting with '[' is an array stream; no content type
            # means look at the first bytes. Pre-decision bytes are few (a JSON body decides
            # at its first non-blank byte).
            self._pending += data
            stripped = bytes(self._pending).lstrip()
            need = 1 if self.framing == "json" else 8
            if len(stripped) < need and len(self._pending) < 4096 and not final:
                return
            self._setup(self._decide(stripped))
            data, self._pending = bytes(self._pending), bytearray()
            if not data:
                return
        if self.framing == "grpc-web-text":
            data = self._unbase64(data)
        if self._framer is not None:
            self._frames_out(self._framer.feed(data))  # type: ignore[attr-defined]
        elif self.framing in ("json-whole", "protobuf"):
            self._buffer_whole(data)

    def _decide(self, head: bytes) -> str:
        if head[:1] == b"[":
            return "json-array"
        if self.framing == "json" or head[:1] == b"{":
            return "json-whole"
        if head.startswith((b"data:", b"event:", b":", b"id:", b"retry:")):
            return "sse"
        return "text" if _is_text(head[:512]) else "binary"

    def _unbase64(self, data: bytes) -> bytes:
        """Decode grpc-web-text incrementally. Servers may base64 each frame on its own, so
        padding (``=``) can end a quantum in the middle of the body: decode up to and
        including every padded quantum, keep an incomplete quantum for the next chunk."""
        data = self._b64_rest + re.sub(rb"\s+", b"", data)
        out = bytearray()
        try:
            while data:
                pad = data.find(b"=")
                if pad < 0:
                    cut = len(data) - len(data) % 4
                    out += base64.b64decode(data[:cut], validate=True)
                    data = data[cut:]
                    break
                end = pad + 1
                while end < len(data) and data[end : end + 1] == b"=":
                    end += 1
                if end % 4:
                    if end < len(data):
                        raise ValueError("misplaced padding")
                    break  # padding may continue in the next chunk
                out += base64.b64decode(data[:end], validate=True)
                data = data[end:]
        except (binascii.Error, ValueError):
            self._error("invalid base64 in grpc-web-text body")
            self._framer = None
            self._b64_rest = b""
            return bytes(out)
        self._b64_rest = data
        return bytes(out)

    def _buffer_whole(self, data: bytes) -> None:
        cap = self._json_cap if self.framing == "json-whole" else DEFAULT_PROTO_CAP
        if not self._whole_over:
            if len(self._whole) + len(data) <= cap:
                self._whole += data
                return
            self._whole_over = True
            what = "JSON" if self.framing == "json-whole" else "protobuf"
            self._error(f"{what} body larger than {cap} bytes: not parsed whole")
            self._whole.clear()
        self._tail = (self._tail + data)[-_TAIL:]

    def _end_framing(self) -> None:
        if self.framing in ("sniff", "json"):
            self._route(b"", final=True)
        if self._framer is not None:
            self._frames_out(self._framer.finish())  # type: ignore[attr-defined]
            for message in getattr(self._framer, "errors", []):
                self._error(message)
        if self.framing == "grpc-web-text" and self._b64_rest:
            self._error("grpc-web-text body ends inside a base64 quantum")
        if self.framing == "json-whole":
            self._finish_json()
        elif self.framing == "protobuf":
            self._finish_protobuf()

    def _finish_json(self) -> None:
        if self._whole_over:
            # Too big to parse: look for a top-level-looking "model" in the head and the tail.
            for blob in (bytes(self._kept), bytes(self._tail)):
                for m in _MODEL_FIELD.finditer(blob):
                    value = m.group(1).decode("utf-8", "replace")
                    self._observe(value, self._body_source(), "$.model")
            return
        if not self._whole.strip():
            return
        try:
            doc = json.loads(bytes(self._whole))
        except (ValueError, RecursionError):
            self._error("malformed JSON body")
            return
        finally:
            self._whole = bytearray()
        self._parsed = (doc,)
        self._document(doc, self._body_source(), "")

    def _finish_protobuf(self) -> None:
        data = bytes(self._whole)
        self._whole = bytearray()
        if not data:
            return
        if parse_fields(data) is None:
            self._error("invalid protobuf body")
        self._protobuf(data)

    def _frames_out(self, frames: list) -> None:
        for frame in frames:
            self._frames += 1
            if isinstance(frame, SSEEvent):
                data = frame.data.strip()
                if data[:1] in ("{", "[") and data != "[DONE]":  # OpenAI's end marker
                    self._json_text(data, Source.SSE_FRAME, keep=True)
            elif isinstance(frame, Envelope):
                self._envelope(frame)
            elif isinstance(frame, EventMessage):
                self._event_message(frame)
            elif isinstance(frame, bytes):
                self._json_text(frame, Source.STREAM_FRAME, keep=self.framing == "ndjson")

    def _envelope(self, env: Envelope) -> None:
        if env.error:
            return
        payload, kind = env.payload, env.kind
        if kind == "trailers":
            trailers = parse_trailers(payload)
            self._trailers.extend(trailers[:50])
            self._project_line(json.dumps({"trailers": dict(trailers)}))
        elif kind == "end_stream" or self.framing in ("connect-json", "grpc-json"):
            try:
                doc = json.loads(payload) if payload.strip() else {}
            except (ValueError, RecursionError):
                self._error("malformed JSON in envelope")
                return
            if kind == "end_stream":
                self._project_line(json.dumps({"end_stream": doc}, ensure_ascii=False))
                error = doc.get("error") if isinstance(doc, dict) else None
                if isinstance(error, dict) and isinstance(error.get("code"), str):
                    self._trailers.append(("connect-error-code", error["code"][:100]))
            else:
                self._project_line(json.dumps(doc, ensure_ascii=False))
                self._document(doc, Source.STREAM_FRAME, "")
        else:
            self._protobuf(payload)

    def _event_message(self, message: EventMessage) -> None:
        event = bedrock_event(message)
        for error in event.errors:
            self._error(error)
        if event.exception:
            self._error(f"stream exception: {event.exception[:100]}")
            self._trailers.append(("x-amzn-exception", event.exception[:200]))
        self._project_line(json.dumps(event.projection, ensure_ascii=False))
        for doc, label in event.documents:
            self._document(doc, Source.STREAM_FRAME, label + ":")

    def _protobuf(self, payload: bytes) -> None:
        rpc = scan_rpc(payload, self._rpc, self.role)
        for kind, value in rpc.secrets:
            if len(self._field_secrets) < _MAX_OBSERVATIONS:
                self._field_secrets.append((kind, value))
        secret = tuple(p + "." for p in rpc.secret_paths)
        for path, text in iter_strings(payload):
            if path in rpc.secret_paths or (path + ".").startswith(secret):
                continue
            if looks_like_model_id(text):
                self._observe(text, Source.PROTOBUF_FIELD, path)
        for model_id, location in rpc.models:
            self._observe(model_id, Source.PROTOBUF_FIELD, location)
        if self._text_size < self.max_body:
            projection = to_projection(payload)
            self._project_line(json.dumps(projection, ensure_ascii=False))

    def _project_line(self, line: str) -> None:
        if self._text_size >= self.max_body:
            return
        line = line[: self.max_body - self._text_size]
        self._texts.append(line)
        self._text_size += len(line) + 1

    def _json_text(self, data: str | bytes, source: Source, *, keep: bool = False) -> None:
        """Parse one frame's JSON and take what it says; ``keep``: remember the document for
        redaction (:attr:`TapResult.docs`) while the kept text has room for it."""
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            self._error(f"malformed JSON in {source.value.replace('_', ' ')}")
            return
        if keep and len(data) <= self._docs_room:
            try:
                key = data if isinstance(data, str) else data.decode("utf-8").strip()
            except UnicodeDecodeError:
                key = None
            if key is not None:
                self._docs[key] = doc
                self._docs_room -= len(data)
        self._document(doc, source, "")

    def _document(self, doc: object, source: Source, prefix: str) -> None:
        found = scan_document(doc, api=self._api)
        if found.api and self._doc_api is None:
            self._doc_api = found.api
        wildcard = self.framing == "json-array"
        for model_id, location in found.ids:
            self._observe(model_id, source, prefix + _located(location, wildcard))
        for dialect, location, obj in found.usages:
            self._usage.add(dialect, prefix + _located(location, wildcard), obj)
        for location, value in found.extra:
            self._usage.add_raw(prefix + _located(location, wildcard), value)
        if source is not Source.RESPONSE_FIELD and source is not Source.REQUEST_FIELD:
            self._deltas.add(doc)

    def _observe(self, model_id: str, source: Source, location: str) -> None:
        key = (model_id, source.value, location)
        if key in self._seen or len(self._observations) >= _MAX_OBSERVATIONS:
            return
        self._seen.add(key)
        self._observations.append(Observation(model_id, source, location, role=self.role))

    def _body_source(self) -> Source:
        return Source.REQUEST_FIELD if self.role == "request" else Source.RESPONSE_FIELD

    def _error(self, message: str) -> None:
        if message not in self._errors and len(self._errors) < _MAX_ERRORS:
            self._errors.append(message)

    def _internal(self, exc: Exception) -> None:
        # The type only: an exception message could quote body bytes.
        self._error(f"internal error in body tap ({type(exc).__name__}); parsing stopped")
        self._passive = True

    def _result(self) -> TapResult:
        try:
            decoder = getattr(self, "_decoder", None)
            decode_failed = decoder is None or decoder.error is not None or self._passive
            decoded_size = decoder.decoded_size if decoder is not None else 0
            empty = self._raw_size == 0
            digest = None
            if not empty:
                digest = (self._raw_hash if decode_failed else self._dec_hash).hexdigest()
            kept = bytes(self._kept)
            framing = getattr(self, "framing", "binary")
            text: str | None
            if self._texts:
                text = "\n".join(self._texts)
            elif kept and framing not in ("binary", "protobuf") and _is_text(kept[:4096]):
                text = kept.decode("utf-8", "replace")
            else:
                text = None
            truncated = decoded_size > len(kept) or (decoder is not None and decoder.cap_reached)
            json_body = (
                framing in ("json-whole", "json-array") and not truncated and not decode_failed
            )
            json_body = json_body and not any(e.startswith("malformed JSON") for e in self._errors)
            return TapResult(
                role=self.role,
                content_type=self.content_type,
                framing=framing,
                api=self._api or self._doc_api,
                raw_size=self._raw_size,
                decoded_size=decoded_size,
                digest=digest,
                body=kept,
                text=text,
                json_body=json_body,
                truncated=truncated,
                observations=list(self._observations),
                usage=self._usage.result(),
                parse_errors=list(self._errors),
                frames=self._frames,
                trailers=list(self._trailers),
                field_secrets=list(self._field_secrets),
                deltas=self._deltas.result() if self.role == "response" else None,
                docs=self._docs or None,
                document=self._parsed if json_body else None,
            )
        except Exception as exc:  # pragma: no cover - defensive
            return TapResult(
                role=self.role,
                content_type=self.content_type,
                framing="binary",
                api=None,
                raw_size=self._raw_size,
                decoded_size=0,
                digest=self._raw_hash.hexdigest(),
                body=b"",
                text=None,
                json_body=False,
                truncated=True,
                parse_errors=[*self._errors, f"internal error in body tap ({type(exc).__name__})"],
            )


def _located(location: str, wildcard: bool) -> str:
    """For JSON-array elements, ``$.x`` becomes ``$[*].x`` so repeats collapse into one."""
    return "$[*]" + location[1:] if wildcard and location.startswith("$") else location


@functools.lru_cache(maxsize=1024)  # one URL, many bodies and exchanges
def _path_of(url: str | None) -> str:
    if not url:
        return ""
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    except ValueError:
        return ""


def _is_text(sample: bytes) -> bool:
    """Heuristic: no NUL and mostly valid UTF-8 (a cut multi-byte char at the end is fine)."""
    if not sample:
        return True
    if b"\x00" in sample:
        return False
    text = sample.decode("utf-8", "replace")
    return text.count("\ufffd") <= max(3, len(text) // 100)


def tap_body(
    body: bytes | None,
    *,
    content_type: str | None,
    content_encoding: str | None,
    role: str,
    max_body: int,
    url: str | None = None,
    message_encoding: str | None = None,
) -> TapResult:
    """Run a whole body through a :class:`BodyTap` (what import and non-streamed capture do)."""
    tap = BodyTap(
        content_type=content_type,
        content_encoding=content_encoding,
        role=role,
        max_body=max_body,
        url=url,
        message_encoding=message_encoding,
    )
    if body:
        tap.feed(body)
    return tap.finish()
