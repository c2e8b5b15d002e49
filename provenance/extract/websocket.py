"""WebSocket sessions (OpenAI Realtime, Gemini Live): model ids, usage and a message log.

A session is stored as one exchange: the HTTP upgrade request/response plus everything said
over the socket. The adapter feeds each message to a :class:`WebSocketTap` as it passes
(``feed(content, from_client=..., is_text=...)``; never raises), then calls
:func:`extract_websocket` with the handshake and ``tap.finish()``.

* OpenAI Realtime (``wss://api.openai.com/v1/realtime?model=…``): the model is in the URL
  query; ``session.created`` / ``session.updated`` (server) and ``session.update`` (client)
  carry ``$.session.model``; each ``response.done`` carries that response's
  ``$.response.usage`` (``input_token_details`` / ``output_token_details``).
  https://platform.openai.com/docs/api-reference/realtime-server-events
* Gemini Live (``…/ws/google.ai.generativelanguage.v1beta.GenerativeService.
  BidiGenerateContent?key=…``): the client's first message is ``{"setup": {"model":
  "models/…"}}``; server messages may carry ``$.usageMetadata``. https://ai.google.dev/api/live

Usage is per turn in both protocols, so the session total is a sum: every OpenAI
``response.done`` adds its usage; for Gemini the last ``usageMetadata`` seen in a turn is
added when the turn completes (``serverContent.turnComplete``) or the session ends, so a
server that repeats the turn's running total in several messages is not counted twice.

Text and JSON binary frames are parsed; other binary frames (audio) are counted only. The log
keeps one JSON line per message (``{"from": "client"|"server", "data": …}``), strings longer
than :data:`MAX_LOG_STRING` characters shortened (base64 audio), up to ``max_log`` characters
in all; :func:`extract_websocket` redacts every line with ``redact_json`` before it is stored,
after redacting secrets split across messages (text deltas) as
:mod:`~provenance.redact.fragments` does for HTTP streams.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from provenance.extract.documents import scan_document
from provenance.extract.usage import add_usage, normalise
from provenance.records import ExchangeRecord, Observation, RawExchange, Source, Usage
from provenance.redact.bodies import redact_frames

if TYPE_CHECKING:
    from provenance.extract.pipeline import ExtractOptions
    from provenance.redact import Redactor

MAX_LOG_STRING = 2048
DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
_MAX_OBSERVATIONS = 200
_MAX_ERRORS = 50
_DEPTH = 64


@dataclass(slots=True)
class WebSocketResult:
    """What a :class:`WebSocketTap` learned about one session (see the module docstring)."""

    api: str | None
    observations: list[Observation] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    log: list[str] = field(default_factory=list)
    log_truncated: bool = False
    parse_errors: list[str] = field(default_factory=list)
    client_messages: int = 0
    server_messages: int = 0
    client_bytes: int = 0
    server_bytes: int = 0


def api_for_url(url: str | None) -> str | None:
    """``openai.realtime`` or ``gemini.live`` from a WebSocket URL path, else None."""
    try:
        path = urlsplit(url or "").path
    except ValueError:
        return None
    if "BidiGenerateContent" in path:
        return "gemini.live"
    if path.rstrip("/").endswith("/realtime"):
        return "openai.realtime"
    return None


def _shorten(value: object, depth: int = 0) -> object:
    """Copy of a JSON value with long strings cut (keeps logs of audio sessions small)."""
    if depth > _DEPTH:
        return "[nested too deep]"
    if isinstance(value, str):
        if len(value) > MAX_LOG_STRING:
            return value[:MAX_LOG_STRING] + f"…[{len(value)} characters]"
        return value
    if isinstance(value, Mapping):
        return {str(k): _shorten(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, depth + 1) for v in value]
    return value


class WebSocketTap:
    """Parse a WebSocket session message by message. ``url`` is the handshake URL (the API is
    named from its path, or from the messages). Memory: the capped log plus one message."""

    def __init__(
        self,
        *,
        url: str | None = None,
        max_log: int = 1_000_000,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self._api = api_for_url(url)
        self._max_log = max(int(max_log), 0)
        self._max_message = max_message
        self._log: list[str] = []
        self._log_size = 0
        self._log_truncated = False
        self._errors: list[str] = []
        self._observations: list[Observation] = []
        self._seen: set[tuple[str, str, str]] = set()
        self._usage = Usage()
        self._turn_usage: Usage | None = None  # Gemini: last report of the running turn
        self._counts = {True: 0, False: 0}
        self._bytes = {True: 0, False: 0}
        self._finished: WebSocketResult | None = None
        self._passive = False

    def feed(self, content: bytes | str, from_client: bool, is_text: bool) -> None:
        """One message, whole (mitmproxy hands over complete messages). Never raises."""
        try:
            if self._finished is not None or self._passive:
                return
            from_client = bool(from_client)
            size = len(
                content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
            )
            self._counts[from_client] += 1
            self._bytes[from_client] += size
            if size > self._max_message:
                self._error(f"WebSocket message of {size} bytes over the cap: not parsed")
                self._log_line(from_client, {"skipped_bytes": size})
                return
            text = self._text(content, is_text)
            if text is None:
                self._log_line(from_client, {"binary_bytes": size})
                return
            stripped = text.strip()
            if stripped[:1] not in ("{", "["):
                self._log_line(from_client, {"text": _shorten(text)})
                return
            try:
                doc = json.loads(stripped)
            except (ValueError, RecursionError):
                self._error("malformed JSON in a WebSocket message")
                self._log_line(from_client, {"text": _shorten(text)})
                return
            self._log_line(from_client, {"data": _shorten(doc)})
            self._message(doc, from_client)
        except Exception as exc:
            self._error(f"internal error in WebSocket tap ({type(exc).__name__}); parsing stopped")
            self._passive = True

    def finish(self) -> WebSocketResult:
        """End of session (commits a Gemini turn still open). Never raises; idempotent."""
        if self._finished is not None:
            return self._finished
        try:
            self._commit_turn()
        except Exception as exc:  # pragma: no cover - defensive
            self._error(f"internal error in WebSocket tap ({type(exc).__name__})")
        self._finished = WebSocketResult(
            api=self._api,
            observations=list(self._observations),
            usage=self._usage,
            log=list(self._log),
            log_truncated=self._log_truncated,
            parse_errors=list(self._errors),
            client_messages=self._counts[True],
            server_messages=self._counts[False],
            client_bytes=self._bytes[True],
            server_bytes=self._bytes[False],
        )
        return self._finished

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _text(content: bytes | str, is_text: bool) -> str | None:
        if isinstance(content, str):
            return content
        try:
            text = bytes(content).decode("utf-8")
        except UnicodeDecodeError:
            if is_text:
                return bytes(content).decode("utf-8", "replace")
            return None
        if is_text or text.lstrip()[:1] in ("{", "["):
            return text
        return None

    def _message(self, doc: object, from_client: bool) -> None:
        if not isinstance(doc, Mapping):
            return
        if self._api is None:
            self._api = _api_from_message(doc)
        found = scan_document(doc, api=self._api)
        role = "request" if from_client else "response"
        for model_id, location in found.ids:
            self._observe(model_id, location, role)
        for location, value in found.extra:
            self._usage.raw[location] = value
        if from_client:
            return
        for dialect, location, obj in found.usages:
            part = normalise(dialect, obj)
            part.raw = {location: dict(obj)}
            if location == "$.usageMetadata":
                self._turn_usage = part  # per turn: the last report wins
            else:
                self._usage = add_usage(self._usage, part)
        content = doc.get("serverContent")
        if isinstance(content, Mapping) and content.get("turnComplete") is True:
            self._commit_turn()

    def _commit_turn(self) -> None:
        if self._turn_usage is not None:
            self._usage = add_usage(self._usage, self._turn_usage)
            self._turn_usage = None

    def _observe(self, model_id: str, location: str, role: str) -> None:
        key = (model_id, location, role)
        if key in self._seen or len(self._observations) >= _MAX_OBSERVATIONS:
            return
        self._seen.add(key)
        self._observations.append(Observation(model_id, Source.WEBSOCKET_MESSAGE, location, role))

    def _log_line(self, from_client: bool, entry: dict[str, object]) -> None:
        if self._log_truncated:
            return
        line = json.dumps(
            {"from": "client" if from_client else "server", **entry}, ensure_ascii=False
        )
        if self._log_size + len(line) + 1 > self._max_log:
            self._log_truncated = True
            return
        self._log.append(line)
        self._log_size += len(line) + 1

    def _error(self, message: str) -> None:
        if message not in self._errors and len(self._errors) < _MAX_ERRORS:
            self._errors.append(message)


def _api_from_message(doc: Mapping) -> str | None:
    if "setup" in doc or "serverContent" in doc or "setupComplete" in doc:
        return "gemini.live"
    kind = doc.get("type")
    if isinstance(kind, str) and kind.startswith(
        ("session.", "response.", "input_audio_buffer.", "conversation.")
    ):
        return "openai.realtime"
    return None


def extract_websocket(
    raw_handshake: RawExchange,
    ws_result: WebSocketResult,
    *,
    redactor: Redactor,
    options: ExtractOptions | None = None,
) -> ExchangeRecord:
    """One redacted exchange row for a whole WebSocket session. Never raises.

    The handshake goes through :func:`~provenance.extract.extract` (URL, headers, provider,
    product, ``?model=``); the session adds its API, model ids, summed usage, the redacted
    message log as the response body (``None`` with ``keep_bodies=False``), message counts
    as sizes, and its parse errors. ``streamed`` is True.
    """
    from provenance.extract.pipeline import ExtractOptions, collecting, extract

    options = options or ExtractOptions()
    handshake = replace(raw_handshake, request_body=None, response_body=None, streamed=True)
    with collecting(redactor) as found:  # the handshake's and the messages' credentials
        record = extract(handshake, redactor=redactor, options=options)
        _add_session(record, ws_result, redactor, options)
    if found is not None:
        record.secret_hashes = found.hashes
    return record


def _add_session(
    record: ExchangeRecord, ws_result: WebSocketResult, redactor: Redactor, options: ExtractOptions
) -> None:
    """The session's ids, usage, sizes and redacted log onto the handshake's record."""
    try:
        observations = list(record.observations)
        seen = {(o.model_id, o.source.value, o.location, o.role) for o in observations}
        for obs in ws_result.observations:
            model_id = redactor.redact_text(obs.model_id)
            key = (model_id, obs.source.value, obs.location, obs.role)
            if key not in seen:
                seen.add(key)
                observations.append(
                    Observation(model_id, obs.source, obs.location, obs.role, obs.kind)
                )
        record.observations = observations
        record.api = ws_result.api or record.api
        record.usage = ws_result.usage
        record.request_size = ws_result.client_bytes
        record.response_size = ws_result.server_bytes
        record.parse_errors.extend(f"websocket: {e}" for e in ws_result.parse_errors)
        if ws_result.log_truncated:
            record.bodies_truncated = True
        if options.keep_bodies and ws_result.log:
            record.response_body = redact_frames(
                redactor, ws_result.log, record.parse_errors, "websocket"
            )
    except Exception as exc:
        record.parse_errors.append(f"internal error in WebSocket extraction ({type(exc).__name__})")
        record.response_body = None
