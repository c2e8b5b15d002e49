"""Turn a reassembled HTTP exchange on a TLS connection into the shared ``RawExchange``."""

from __future__ import annotations

from provenance.pcap.http_common import HttpExchange
from provenance.pcap.model import TlsConnection, utc
from provenance.records import Origin, RawExchange

_STREAMED_TYPES = (
    "text/event-stream",
    "application/grpc",
    "application/connect+",
    "application/x-ndjson",
    "application/vnd.amazon.eventstream",
)


def _url(conn: TlsConnection, exchange: HttpExchange) -> str:
    target = exchange.target
    if target.startswith(("https://", "http://")):
        return target
    authority = exchange.authority
    if not authority:
        host = conn.host or conn.server_ip
        if ":" in host:
            host = f"[{host}]"
        authority = host if conn.server_port == 443 else f"{host}:{conn.server_port}"
    if not target.startswith("/"):
        target = "/" + target if target != "*" else "/"
    return f"https://{authority}{target}"


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start) * 1000.0)


def to_raw_exchange(conn: TlsConnection, exchange: HttpExchange) -> RawExchange:
    """Build the ``RawExchange`` (origin ``pcap``, the connection's JA4) for one exchange."""
    content_type = ""
    for name, value in exchange.response_headers:
        if name.lower() == "content-type":
            content_type = value.lower()
    return RawExchange(
        started_at=utc(exchange.t_request),
        method=exchange.method,
        url=_url(conn, exchange),
        request_headers=list(exchange.request_headers),
        request_body=exchange.request_body,
        status=exchange.status,
        response_headers=list(exchange.response_headers),
        response_body=exchange.response_body,
        latency_ms=_ms(exchange.t_request, exchange.t_response_end),
        ttfb_ms=_ms(exchange.t_request_end or exchange.t_request, exchange.t_response_first),
        streamed=content_type.startswith(_STREAMED_TYPES),
        http_version=exchange.http_version,
        origin=Origin.PCAP,
        client_ja4=conn.ja4,
        error=exchange.error,
    )
