"""mitmproxy ``HTTPFlow`` → :class:`~provenance.records.RawExchange` (live capture and flow files).

Pure apart from reading the flow. Timings come from mitmproxy's timestamps (seconds since the
epoch): latency = request start → response end (or the error); time to first byte = response
headers received − request fully sent upstream (``request.timestamp_end``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from provenance.records import Headers, Origin, RawExchange

if TYPE_CHECKING:
    from mitmproxy import http


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round((end - start) * 1000.0, 3)


def headers_list(headers: object) -> Headers:
    """mitmproxy ``Headers`` → ``[(name, value), ...]`` in wire order, duplicates kept."""
    items = headers.items(multi=True)  # type: ignore[attr-defined]
    return [(str(k), str(v)) for k, v in items]


def flow_timings(flow: http.HTTPFlow) -> tuple[float | None, float | None]:
    """``(latency_ms, ttfb_ms)`` of a flow; None where mitmproxy has no timestamp."""
    req = flow.request
    resp = flow.response
    end: float | None = None
    if resp is not None:
        end = resp.timestamp_end or resp.timestamp_start
    elif flow.error is not None:
        end = flow.error.timestamp
    latency = _ms(req.timestamp_start, end)
    ttfb = None
    if resp is not None:
        ttfb = _ms(req.timestamp_end or req.timestamp_start, resp.timestamp_start)
    return latency, ttfb


def raw_exchange_from_flow(
    flow: http.HTTPFlow,
    *,
    origin: Origin = Origin.LIVE,
    product: str | None = None,
    client_ja4: str | None = None,
    request_teed: bool = False,
    response_teed: bool = False,
    streamed: bool = False,
    error: str | None = None,
) -> RawExchange:
    """Build the adapter record for one HTTP flow.

    ``request_teed``/``response_teed``: the body went through a tee, so it is not in the flow
    (``raw_content`` is None) and the caller passes the tap result to ``extract`` instead.
    ``error`` overrides ``flow.error.msg``.
    """
    req = flow.request
    resp = flow.response
    latency, ttfb = flow_timings(flow)
    if error is None and flow.error is not None:
        error = flow.error.msg or "connection error"
    return RawExchange(
        started_at=datetime.fromtimestamp(req.timestamp_start or 0.0, UTC),
        method=req.method,
        url=req.url,
        request_headers=headers_list(req.headers),
        request_body=None if request_teed else req.raw_content,
        status=resp.status_code if resp is not None else None,
        response_headers=headers_list(resp.headers) if resp is not None else [],
        response_body=None if (response_teed or resp is None) else resp.raw_content,
        latency_ms=latency,
        ttfb_ms=ttfb,
        streamed=streamed,
        http_version=req.http_version or None,
        origin=origin,
        product=product,
        client_ja4=client_ja4,
        error=error,
        response_trailers=headers_list(resp.trailers) if resp is not None and resp.trailers else [],
    )
