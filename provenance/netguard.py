"""A request guard for provenance's own servers (the dashboard, ``serve-reference``).

Both serve data an attacker would like to read (the store; a reference model) on a loopback
port, where any web page the auditor opens can reach them. The guard is plain ASGI middleware
and refuses, before the application sees anything:

* a ``Host`` that is not an IP address, ``localhost``, or a name given with ``--allow-host``
  (DNS rebinding: the attacker's name resolving to 127.0.0.1 arrives with the attacker's name
  as ``Host``; a literal address cannot be rebound) — 421 Misdirected Request;
* an ``Origin`` other than the request's own (``scheme://Host``) or an allowed host's —
  403; a cross-site page's requests carry its origin, same-origin and non-browser clients
  carry the right one or none;
* with ``json_only``: a POST whose ``Content-Type`` is not ``application/json`` (a browser's
  "simple" cross-site POST is ``text/plain``) — 415; and a body above ``max_body`` bytes,
  refused from ``Content-Length`` or while it arrives, before the application parses it — 413.

WebSocket handshakes get the same Host and Origin checks and are closed (HTTP 403) when refused.

A dashboard served beyond loopback also needs a password: :class:`provenance.gate.PasswordGate`,
placed behind this guard.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from provenance.asgi import ASGIApp, Message, Receive, Scope, Send, refuse, request_headers, respond

ALLOW_HOSTS_ENV = "PROVENANCE_ALLOW_HOSTS"  # comma-separated, for the dashboard's process


def host_name(value: str) -> str | None:
    """The host of a ``Host`` header value or an origin's netloc (lower case, no port, no
    brackets, no trailing dot); None when it is not a well-formed host."""
    value = value.strip().lower()
    if not value or any(c in value for c in "/\\@ \t?#"):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not value[end + 1 :].startswith(":")):
            return None
        host, port = value[1:end], value[end + 2 :] if value[end + 1 :] else ""
    elif value.count(":") == 1:
        host, port = value.split(":")
    elif ":" in value:
        return None  # a bare IPv6 address needs brackets in a Host header
    else:
        host, port = value, ""
    if port and not (port.isdigit() and int(port) <= 65535):
        return None
    return host.rstrip(".") or None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class RequestGuard:
    """ASGI middleware enforcing the rules in the module docstring around ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_hosts: Iterable[str] = (),
        json_only: bool = False,
        max_body: int | None = None,
    ) -> None:
        self.app = app
        self.allow_hosts = {h.strip().lower().rstrip(".") for h in allow_hosts if h.strip()}
        self.json_only = json_only
        self.max_body = max_body

    def host_allowed(self, host: str | None) -> bool:
        """An IP literal, ``localhost``, or a name given with ``--allow-host``."""
        if host is None:
            return False
        return _is_ip(host) or host == "localhost" or host in self.allow_hosts

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """``(status, reason)`` when the request is refused, else None."""
        headers = request_headers(scope)
        host_header = headers.get("host")
        host = host_name(host_header or "")
        if not self.host_allowed(host):
            shown = (host_header or "")[:100]
            return 421, f"Host {shown!r} is not this server's (see --allow-host)"
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin.strip())
            own = (host_header or "").strip().lower()
            same = parts.scheme in ("http", "https") and parts.netloc.lower() == own
            allowed = host_name(parts.netloc) in self.allow_hosts
            if not (same or allowed):
                return 403, "cross-origin requests are refused"
        if self.json_only and scope["type"] == "http" and scope.get("method") == "POST":
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                return 415, "the body must be JSON (Content-Type: application/json)"
            length = headers.get("content-length")
            if length is not None and not _fits(length, self.max_body):
                return 413, f"the request body is over {self.max_body} bytes"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is not None:
            await refuse(scope, send, *refused)
            return
        if self.max_body is not None and scope["type"] == "http":
            body = await _read_body(receive, self.max_body)
            if body is None:
                await respond(send, 413, f"the request body is over {self.max_body} bytes")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


def _fits(length: str, limit: int | None) -> bool:
    """A ``Content-Length`` value that is a number within ``limit`` (None: any number)."""
    text = length.strip()
    return text.isdigit() and (limit is None or int(text) <= limit)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it exceeds ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
