"""``extract()``: one :class:`~provenance.records.RawExchange` in, one redacted
:class:`~provenance.records.ExchangeRecord` out. The single extraction path for live capture,
HAR/flow import and pcap.

Steps: split the URL; run body taps over the request/response bodies unless the adapter
already tapped them (streamed bodies); collect model ids from the URL, headers and bodies;
name the API, provider (host catalog) and product (``raw.product``, else the product catalog);
then redact everything before the record is built: headers (``redact_headers``), the query
string (``redact_url``), model ids and error text (``redact_text``), and what is kept of the
bodies through :func:`provenance.redact.bodies.redact_body` — ``redact_json`` for JSON
documents and line by line for JSON-line streams (SSE ``data:`` frames, event-stream and
protobuf projections), after secrets split across frames are redacted in each output channel's
joined text; values at secret protobuf field paths replaced first; a split secret that cannot be
mapped back replaces the body by the redacted joined text, with a parse error saying so (the
digest still describes the wire body).
Trailers (HTTP/2 ``raw.response_trailers`` and
status fields found in the body: gRPC-web trailer frames, Connect end-stream errors, Bedrock
stream exceptions) are appended to the stored response headers, after the headers proper.
Bedrock's ``X-Amzn-Bedrock-*-Token-Count`` response headers fill usage not found in bodies.
``extract`` never raises: any internal failure becomes a parse error on a record that still
carries only redacted data.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from provenance import catalog
from provenance.extract.locate import api_from_path, ids_from_headers, ids_from_url
from provenance.extract.tap import TapResult, tap_body
from provenance.extract.usage import merge_usage, normalise
from provenance.records import ExchangeRecord, Headers, Observation, RawExchange, Source, Usage
from provenance.redact.bodies import redact_body

if TYPE_CHECKING:
    from provenance.redact import Redactor

T = TypeVar("T")
_BEDROCK_TOKEN_HEADERS = {
    "x-amzn-bedrock-input-token-count": "inputTokenCount",
    "x-amzn-bedrock-output-token-count": "outputTokenCount",
    "x-amzn-bedrock-cache-read-input-token-count": "cacheReadInputTokenCount",
    "x-amzn-bedrock-cache-write-input-token-count": "cacheWriteInputTokenCount",
}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """``keep_bodies=False`` stores no bodies at all (``--no-bodies``); ``max_body`` is the
    number of decoded bytes kept per body (``--max-body``)."""

    keep_bodies: bool = True
    max_body: int = 1_000_000


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.strip().lower() == name:
            return value
    return None


class _Run:
    """One extraction; each step is guarded so a failure costs only that step."""

    def __init__(self, raw: RawExchange, redactor: Redactor, options: ExtractOptions) -> None:
        self.raw = raw
        self.redactor = redactor
        self.options = options
        self.errors: list[str] = []

    def guard(self, what: str, fn: Callable[[], T], default: T) -> T:
        try:
            return fn()
        except Exception as exc:
            self.errors.append(f"internal error in {what} ({type(exc).__name__})")
            return default

    def tap(self, role: str, body: bytes | None, headers: Headers) -> TapResult | None:
        if body is None:
            return None
        return tap_body(
            body,
            content_type=_header(headers, "content-type"),
            content_encoding=None
            if self.raw.bodies_decoded
            else _header(headers, "content-encoding"),
            role=role,
            max_body=self.options.max_body,
            url=self.raw.url,
            message_encoding=_header(headers, "connect-content-encoding")
            or _header(headers, "grpc-encoding"),
        )

    def body_text(self, tap: TapResult | None) -> str | None:
        if tap is None or not self.options.keep_bodies or not tap.body:
            return None
        return redact_body(self.redactor, tap, self.errors)


def _split_url(url: str) -> tuple[str, str, int | None, str, str]:
    parts = urlsplit(url)
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = _DEFAULT_PORTS.get(scheme)
    return scheme, host, port, parts.path or "/", parts.query


def extract(
    raw: RawExchange,
    *,
    redactor: Redactor,
    options: ExtractOptions | None = None,
    request_tap: TapResult | None = None,
    response_tap: TapResult | None = None,
) -> ExchangeRecord:
    """Extract and redact one exchange (see the module docstring). Never raises.

    ``request_tap``/``response_tap`` are results of :class:`~provenance.extract.BodyTap` the
    adapter fed while streaming; when given, the matching ``raw`` body is not parsed again.
    ``secret_hashes`` are the credentials redacted in this exchange only, whatever else the
    redactor is doing on other threads.
    """
    with collecting(redactor) as found:
        record = _extract(raw, redactor, options, request_tap, response_tap)
    record.secret_hashes = found.hashes if found is not None else []
    return record


def _size(wire: int | None, tap: TapResult | None) -> int | None:
    """A body's size on the wire: the source's own figure where it holds the body decoded."""
    if tap is None:
        return None
    return wire if wire is not None else tap.raw_size


def collecting(redactor: Redactor) -> AbstractContextManager[Any]:
    """``redactor.collecting()``, or a block that collects nothing (``None``) if the redactor
    cannot collect: extraction must not fail for it."""
    try:
        return redactor.collecting()
    except Exception:
        return nullcontext(None)


def _extract(
    raw: RawExchange,
    redactor: Redactor,
    options: ExtractOptions | None,
    request_tap: TapResult | None,
    response_tap: TapResult | None,
) -> ExchangeRecord:
    run = _Run(raw, redactor, options or ExtractOptions())
    scheme, host, port, path, query = run.guard(
        "URL parsing", lambda: _split_url(raw.url), ("http", "", None, "/", "")
    )
    if request_tap is None:
        request_tap = run.guard(
            "request body", lambda: run.tap("request", raw.request_body, raw.request_headers), None
        )
    if response_tap is None:
        response_tap = run.guard(
            "response body",
            lambda: run.tap("response", raw.response_body, raw.response_headers),
            None,
        )
    taps = [t for t in (request_tap, response_tap) if t is not None]

    observations: list[Observation] = []
    for found in run.guard("URL ids", lambda: ids_from_url(path, query), []):
        source = Source.URL_PATH if found.source == "url_path" else Source.URL_QUERY
        observations.append(
            Observation(found.model_id, source, found.location, "request", found.kind)
        )
    for role, headers in (("request", raw.request_headers), ("response", raw.response_headers)):
        for model_id, name in run.guard("header ids", lambda h=headers: ids_from_headers(h), []):
            observations.append(Observation(model_id, Source.HEADER, name, role))
    for tap in taps:
        observations.extend(tap.observations)
    observations = run.guard(
        "model id redaction", lambda: _redact_observations(observations, redactor), []
    )

    content_type = _header(raw.response_headers, "content-type") or _header(
        raw.request_headers, "content-type"
    )
    api = run.guard("API detection", lambda: api_from_path(path, content_type), None)
    for tap in taps:
        api = api or tap.api
    provider = run.guard("provider lookup", lambda: catalog.provider_for_host(host), None)
    product = raw.product
    if product is None:
        product = run.guard(
            "product lookup", lambda: catalog.product_for_headers(raw.request_headers), None
        )

    usage = Usage()
    if response_tap is not None:
        usage = response_tap.usage
    if request_tap is not None and not request_tap.usage.is_empty():
        usage = merge_usage(usage, request_tap.usage)
    usage = run.guard("header usage", lambda: _header_usage(usage, raw.response_headers), usage)

    parse_errors: list[str] = list(raw.notes)
    for tap in taps:
        parse_errors.extend(f"{tap.role}: {e}" for e in tap.parse_errors)
    red_path = run.guard(
        "URL redaction", lambda: redactor.redact_url(path + ("?" + query if query else "")), ""
    )
    req_headers = run.guard(
        "header redaction", lambda: redactor.redact_headers(raw.request_headers), []
    )
    trailers = list(raw.response_trailers or [])
    if response_tap is not None:
        trailers.extend(response_tap.trailers)
    resp_headers = run.guard(
        "header redaction", lambda: redactor.redact_headers(raw.response_headers + trailers), []
    )
    req_body = run.guard("body redaction", lambda: run.body_text(request_tap), None)
    resp_body = run.guard("body redaction", lambda: run.body_text(response_tap), None)
    error = run.guard(
        "error redaction", lambda: redactor.redact_text(raw.error) if raw.error else None, None
    )
    product_text = run.guard("product redaction", lambda: _opt_text(redactor, product), None)
    content_type_text = run.guard("content-type", lambda: _opt_text(redactor, content_type), None)
    parse_errors.extend(run.errors)

    return ExchangeRecord(
        started_at=raw.started_at,
        method=(raw.method or "").upper()[:16],
        scheme=scheme,
        host=host,
        port=port,
        path=red_path,
        status=raw.status,
        provider=provider if isinstance(provider, str) else None,
        product=product_text,
        api=api,
        content_type=content_type_text,
        latency_ms=raw.latency_ms,
        ttfb_ms=raw.ttfb_ms,
        streamed=raw.streamed,
        request_size=_size(raw.request_wire_size, request_tap),
        response_size=_size(raw.response_wire_size, response_tap),
        request_headers=req_headers,
        response_headers=resp_headers,
        request_body=req_body,
        response_body=resp_body,
        request_digest=request_tap.digest if request_tap else None,
        response_digest=response_tap.digest if response_tap else None,
        bodies_truncated=any(t.truncated for t in taps),
        usage=usage,
        observations=observations,
        parse_errors=parse_errors,
        origin=raw.origin,
        http_version=raw.http_version,
        client_ja4=raw.client_ja4,
        error=error,
        deployment=next((o.model_id for o in observations if o.kind == "deployment"), None),
        stream_deltas=response_tap.deltas if response_tap is not None else None,
    )


def _header_usage(usage: Usage, headers: Headers) -> Usage:
    """Fill counts missing from the bodies with Bedrock's token-count response headers
    (``InvokeModel`` answers carry them; boto3 shows them in ``ResponseMetadata.HTTPHeaders``)."""
    found: dict[str, int] = {}
    for name, value in headers:
        key = _BEDROCK_TOKEN_HEADERS.get(name.strip().lower())
        if key and value.strip().isdigit():
            found[key] = int(value.strip())
    if not found:
        return usage
    part = normalise("bedrock.metrics", found)
    part.raw = {"header:x-amzn-bedrock-*-token-count": found}
    return merge_usage(usage, part)


def _opt_text(redactor: Redactor, value: str | None) -> str | None:
    return redactor.redact_text(value) if value else value


def _redact_observations(observations: list[Observation], redactor: Redactor) -> list[Observation]:
    """Model ids are not secrets, but a key pasted where a model belongs must not be stored."""
    out: list[Observation] = []
    seen: set[tuple[str, str, str, str, str]] = set()
    for obs in observations:
        model_id = redactor.redact_text(obs.model_id)
        key = (model_id, obs.source.value, obs.location, obs.role, obs.kind)
        if key in seen:
            continue
        seen.add(key)
        out.append(Observation(model_id, obs.source, obs.location, obs.role, obs.kind))
    return out
