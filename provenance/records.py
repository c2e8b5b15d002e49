"""The typed records that flow through provenance: what adapters hand in, what the store keeps.

One extraction path: the live addon, the HAR/flow importers and the pcap reader all build a
:class:`RawExchange` (or, for streamed responses, feed a body tap) and call the same extraction
function, which returns an :class:`ExchangeRecord`. An ``ExchangeRecord`` is already redacted:
nothing in it may hold a secret in plain text, so it can be stored, logged and exported as is.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

Headers = list[tuple[str, str]]


class Source(enum.StrEnum):
    """Where a model id was found in an exchange (``observations.source``)."""

    REQUEST_FIELD = "request_field"  # a JSON field of the request body, e.g. $.model
    RESPONSE_FIELD = "response_field"  # a JSON field of a non-streamed response
    URL_PATH = (
        "url_path"  # e.g. Gemini /v1beta/models/{model}:generateContent, Bedrock /model/{id}/
    )
    URL_QUERY = "url_query"  # e.g. OpenAI Realtime ?model=
    HEADER = "header"  # a request or response header
    PROTOBUF_FIELD = "protobuf_field"  # a string inside a protobuf message, located by field path
    SSE_FRAME = "sse_frame"  # a JSON field inside a Server-Sent Events frame
    STREAM_FRAME = "stream_frame"  # a frame of another stream: event-stream, JSON array stream
    WEBSOCKET_MESSAGE = "websocket_message"  # a WebSocket message


class Origin(enum.StrEnum):
    """How an exchange reached provenance."""

    LIVE = "live"
    HAR = "har"
    FLOW = "flow"
    PCAP = "pcap"
    PROBE = "probe"  # sent by a fingerprint run through a replay channel


@dataclass(frozen=True, slots=True)
class Observation:
    """One sighting of a model identifier.

    ``location`` says exactly where: a JSON path (``$.message.model``), a URL template
    (``/v1beta/models/{model}``), a header name, or a protobuf field path (``5.1``: field 1 of
    the message in field 5). ``role`` is ``"request"`` or ``"response"``; ``kind`` says what the id
    names: ``"model"`` (the usual), or ``"deployment"`` for a customer-chosen alias (Azure).
    """

    model_id: str
    source: Source
    location: str
    role: str = "request"
    kind: str = "model"


@dataclass(slots=True)
class Usage:
    """Token usage, normalised across providers. ``None`` means "not reported", never 0.

    ``input_tokens`` counts every prompt token including cached ones (OpenAI's convention);
    ``cached_tokens`` is the part served from a prompt cache; ``cache_write_tokens`` the part
    written to one. ``reasoning_tokens`` is the part of ``output_tokens`` spent on reasoning.
    ``raw`` keeps the provider's own usage objects, as reported, keyed by where they were found.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    raw: dict[str, object] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """True when no count was reported at all."""
        return all(
            v is None
            for v in (
                self.input_tokens,
                self.output_tokens,
                self.cached_tokens,
                self.cache_write_tokens,
                self.reasoning_tokens,
                self.total_tokens,
            )
        )


@dataclass(slots=True)
class RawExchange:
    """One HTTP request/response pair as the adapter saw it, before extraction.

    Bodies are as on the wire: still Content-Encoding-compressed (extraction decodes them, with a
    cap against decompression bombs), unless ``bodies_decoded`` says the source only kept them
    decoded (a HAR): the Content-Encoding headers then stay as evidence and are not applied, and
    ``*_wire_size`` carry the sizes on the wire where the source recorded them. ``url`` is
    absolute (scheme, host, path, query). Times are UTC; ``ttfb_ms`` is the first response byte
    after the request was sent. ``response_body`` may be None when the adapter fed the body
    through a tap instead (streamed responses).
    """

    started_at: datetime
    method: str
    url: str
    request_headers: Headers
    request_body: bytes | None
    status: int | None
    response_headers: Headers
    response_body: bytes | None
    latency_ms: float | None = None
    ttfb_ms: float | None = None
    streamed: bool = False
    http_version: str | None = None
    origin: Origin = Origin.LIVE
    product: str | None = None  # set only by an explicit override (--product)
    client_ja4: str | None = None
    error: str | None = None  # a connection/protocol error reported by the adapter
    response_trailers: Headers = field(default_factory=list)  # HTTP/2 trailers (gRPC status)
    notes: list[str] = field(default_factory=list)  # what the adapter could not read, as is
    bodies_decoded: bool = False  # bodies already decoded (HAR): Content-Encoding not applied
    request_wire_size: int | None = None  # body bytes on the wire, where only decoded are held
    response_wire_size: int | None = None


@dataclass(slots=True)
class ExchangeRecord:
    """One extracted, redacted exchange: exactly what the store persists (``exchanges`` row +
    its ``observations``).

    ``request_body``/``response_body`` are redacted text (decoded, UTF-8 with replacement) up to
    the body cap, or None when bodies are not kept (``--no-bodies``) or the body was empty. The
    ``*_digest`` fields are SHA-256 hex of the full bodies as decoded (or as raw bytes when they
    could not be decoded), so identical bodies can be matched without storing them.
    ``parse_errors`` lists what could not be parsed, one short reason each; extraction never
    raises for bad traffic.
    """

    started_at: datetime
    method: str
    scheme: str
    host: str
    port: int | None
    path: str  # path + redacted query string
    status: int | None
    provider: str | None  # slug from the host catalog, None if unknown
    product: str | None  # from --product, else the product catalog (User-Agent, headers)
    api: str | None  # wire format recognised, e.g. "openai.chat", "anthropic.messages"
    content_type: str | None
    latency_ms: float | None
    ttfb_ms: float | None
    streamed: bool
    request_size: int | None  # bytes on the wire (encoded)
    response_size: int | None
    request_headers: Headers
    response_headers: Headers
    request_body: str | None
    response_body: str | None
    request_digest: str | None
    response_digest: str | None
    bodies_truncated: bool
    usage: Usage
    observations: list[Observation]
    parse_errors: list[str]
    origin: Origin = Origin.LIVE
    http_version: str | None = None
    client_ja4: str | None = None
    secret_hashes: list[str] = field(default_factory=list)  # keyed hashes of redacted secrets
    error: str | None = None
    deployment: str | None = None  # a customer-chosen deployment alias (Azure), if in the URL
    # streamed text piece lengths per channel, in characters (offsets, never the text itself)
    stream_deltas: dict[str, list[int]] | None = None
