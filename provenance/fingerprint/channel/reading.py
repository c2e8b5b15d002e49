"""Reading a product's reply from an exchange as the capture stored it.

Replay stores every exchange it sends (through the capture's own extraction, so redaction and
the usage normaliser are the capture's), and guided probing finds the exchange the capture
stored; both then read the reply here, from the stored form: the response body as text (SSE and
JSON as they came; Connect/gRPC/protobuf and AWS event-stream bodies as one projection per
message and line), the normalised usage columns, and the model ids observed.

* **frames**: the body's documents, one per stream frame (one for a whole JSON body);
* **text pieces**: ``--text-at`` on each frame when given; else the capture's stream-delta
  reader (OpenAI, Anthropic, Gemini, Responses … chunk shapes); else the format's ``text`` paths
  (``fingerprints/``) on each frame;
* **usage**: ``--usage-at`` on the last frame that has it when given; else the capture's
  normalised counts; else the format's ``usage`` paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from provenance.extract.tap import framing_for
from provenance.fingerprint.channel import Reply
from provenance.fingerprint.channel.formats import ChatFormat
from provenance.fingerprint.channel.paths import MISSING, get_path

PROTOBUF_FRAMINGS = frozenset({"connect", "grpc", "grpc-web", "grpc-web-text", "protobuf"})
LINE_FRAMINGS = PROTOBUF_FRAMINGS | {"eventstream", "ndjson"}


@dataclass(frozen=True, slots=True)
class ReplyPaths:
    """Where the reply's text and usage live, when the auditor said so (``None``: not given)."""

    text: str | None = None
    usage_prompt: str | None = None
    usage_completion: str | None = None


@dataclass(frozen=True, slots=True)
class StoredReply:
    """The stored parts of one exchange that a reply is read from."""

    exchange_id: int | None
    status: int | None
    content_type: str | None
    response_body: str | None
    input_tokens: int | None
    output_tokens: int | None
    model: str | None
    streamed: bool
    where: str  # "host/path" for messages


def is_protobuf(content_type: str | None) -> bool:
    """True when stored bodies of this content type are protobuf projections."""
    return framing_for(content_type) in PROTOBUF_FRAMINGS


def frames(body: str | None, content_type: str | None) -> list[Any]:
    """The documents of a stored body, in order (unparseable frames are skipped)."""
    if not body:
        return []
    framing = framing_for(content_type)
    if framing in LINE_FRAMINGS:
        return [doc for doc in map(_loads, body.splitlines()) if doc is not MISSING]
    if framing == "sse" or (framing == "sniff" and body.lstrip().startswith(("data:", "event:"))):
        from provenance.extract.sse import parse_sse

        out = []
        for event in parse_sse(body.encode("utf-8", "surrogatepass")):
            data = event.data.strip()
            if data[:1] in ("{", "["):
                doc = _loads(data)
                if doc is not MISSING:
                    out.append(doc)
        return out
    doc = _loads(body)
    return [doc] if doc is not MISSING else []


def _loads(text: str) -> Any:
    text = text.strip()
    if not text:
        return MISSING
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return MISSING


def _scalar(value: Any) -> Any:
    """A tagged projection scalar (``{"$string": s}``, ``{"$fixed32": n}``) as its value."""
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        if key in ("$string", "$fixed32", "$fixed64"):
            return value[key]
    return value


def _bytes_text(value: Any) -> Any:
    """A projection's ``base64:`` bytes as UTF-8 text where they are (the projection shows
    text with unprintable characters, such as U+200D, as bytes); anything else unchanged."""
    if isinstance(value, str) and value.startswith("base64:"):
        import base64
        import binascii

        try:
            return base64.b64decode(value[7:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


def _first(doc: Any, paths: tuple[str, ...], protobuf: bool, kind: type) -> Any:
    for path in paths:
        value = _scalar(get_path(doc, path, protobuf=protobuf))
        if protobuf:
            value = _bytes_text(value)
        if isinstance(value, kind) and not isinstance(value, bool):
            return value
    return None


def text_pieces(
    stored: StoredReply, fmt: ChatFormat | None, paths: ReplyPaths, docs: list[Any] | None = None
) -> tuple[str, ...]:
    """The reply text as it arrived (see the module docstring); ``docs``: its :func:`frames`,
    when the caller has them already."""
    protobuf = is_protobuf(stored.content_type)
    if docs is None:
        docs = frames(stored.response_body, stored.content_type)
    if paths.text:
        return tuple(p for d in docs if (p := _first(d, (paths.text,), protobuf, str)))
    if not protobuf and stored.response_body:
        from provenance.fingerprint.tokenizer.boundary import pieces_from_body

        content = pieces_from_body(stored.response_body, stored.content_type).get("content")
        if content:
            return tuple(content)
    if fmt is not None and fmt.text:
        return tuple(p for d in docs if (p := _first(d, fmt.text, protobuf, str)))
    return ()


def usage_counts(
    stored: StoredReply, fmt: ChatFormat | None, paths: ReplyPaths, docs: list[Any] | None = None
) -> tuple[int | None, int | None]:
    """``(prompt tokens, completion tokens)`` the reply reports (see the module docstring)."""
    protobuf = is_protobuf(stored.content_type)
    wanted = (paths.usage_prompt, paths.usage_completion)
    if not any(wanted) and (stored.input_tokens is not None or stored.output_tokens is not None):
        return stored.input_tokens, stored.output_tokens
    if any(wanted):
        prompt_paths = (paths.usage_prompt,) if paths.usage_prompt else ()
        completion_paths = (paths.usage_completion,) if paths.usage_completion else ()
    elif fmt is not None:
        prompt_paths, completion_paths = fmt.usage_prompt, fmt.usage_completion
    else:
        return None, None
    if docs is None:
        docs = frames(stored.response_body, stored.content_type)
    prompt = completion = None
    for doc in reversed(docs):
        if prompt is None and prompt_paths:
            prompt = _first(doc, prompt_paths, protobuf, int)
        if completion is None and completion_paths:
            completion = _first(doc, completion_paths, protobuf, int)
    return prompt, completion


def error_of(stored: StoredReply) -> str | None:
    """One line for an HTTP error reply (the product's own message where it gives one)."""
    if stored.status is None:
        return f"no answer from {stored.where}"
    if stored.status < 400:
        return _stream_error(stored)
    message = ""
    for doc in frames(stored.response_body, stored.content_type)[-1:]:
        err = doc.get("error", doc.get("message")) if isinstance(doc, dict) else None
        if isinstance(err, dict):
            err = err.get("message", err.get("code"))
        message = str(err) if err is not None else ""
    if not message and stored.response_body:
        message = stored.response_body[:200]
    message = " ".join(message.split())[:200]
    return f"HTTP {stored.status} from {stored.where}" + (f": {message}" if message else "")


def _stream_error(stored: StoredReply) -> str | None:
    """A Connect end-stream error (HTTP 200, the error in the last frame), on one line."""
    if framing_for(stored.content_type) not in PROTOBUF_FRAMINGS:
        return None
    for doc in frames(stored.response_body, stored.content_type)[-1:]:
        end = doc.get("end_stream") if isinstance(doc, dict) else None
        error = end.get("error") if isinstance(end, dict) else None
        if isinstance(error, dict):
            code = " ".join(str(error.get("code", "unknown")).split())[:60]
            message = " ".join(str(error.get("message", "")).split())[:200]
            return f"Connect error {code} from {stored.where}" + (f": {message}" if message else "")
    return None


def read_reply(stored: StoredReply, fmt: ChatFormat | None, paths: ReplyPaths) -> Reply:
    """The :class:`Reply` of one stored exchange; ``error`` set when it is not usable."""
    error = error_of(stored)
    if error is not None:
        return Reply(stored.status, exchange_id=stored.exchange_id, error=error)
    docs = frames(stored.response_body, stored.content_type)
    pieces = text_pieces(stored, fmt, paths, docs)
    prompt, completion = usage_counts(stored, fmt, paths, docs)
    if not pieces and prompt is None and completion is None:
        error = (
            f"the reply from {stored.where} carried neither text nor usage the parsers could read "
            f"({stored.content_type or 'no content type'}); name them with --text-at/--usage-at "
            "(see `provenance probe inspect`)"
        )
    return Reply(
        stored.status,
        pieces=pieces,
        prompt_tokens=prompt,
        completion_tokens=completion,
        model=stored.model,
        exchange_id=stored.exchange_id,
        error=error,
        streamed=stored.streamed,
    )
