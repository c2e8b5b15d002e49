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

:class:`PasswordGate` adds HTTP Basic authentication against a scrypt hash, for a dashboard
served beyond loopback (``provenance dashboard --allow-remote --password-env VAR``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

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
        headers = _headers(scope)
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
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _respond(send, *refused)
            return
        if self.max_body is not None and scope["type"] == "http":
            body = await _read_body(receive, self.max_body)
            if body is None:
                await _respond(send, 413, f"the request body is over {self.max_body} bytes")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


def _fits(length: str, limit: int | None) -> bool:
    """A ``Content-Length`` value that is a number within ``limit`` (None: any number)."""
    text = length.strip()
    return text.isdigit() and (limit is None or int(text) <= limit)


def _headers(scope: Scope) -> dict[str, str]:
    """Header name → value (the first of repeated headers; latin-1 as HTTP defines it)."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers") or []:
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


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


async def _respond(send: Send, status: int, reason: str) -> None:
    body = (reason + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


PASSWORD_HASH_ENV = "PROVENANCE_DASHBOARD_PASSWORD_HASH"  # for the dashboard's process
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$<salt hex>$<hash hex>`` of ``password`` (scrypt, N=2^14, r=8, p=1)."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(stored: str, password: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (constant-time comparison)."""
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    given = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT, dklen=len(digest))
    return hmac.compare_digest(given, digest)


class PasswordGate:
    """ASGI middleware: HTTP Basic authentication against a scrypt hash, for every request and
    WebSocket handshake (browsers resend the credentials to the same origin). The user name is
    not checked; a wrong or missing password gets 401 and nothing else. Successful checks are
    remembered per credential for the process's life, so scrypt runs once per credential."""

    def __init__(self, app: ASGIApp, *, password_hash: str) -> None:
        self.app = app
        self.password_hash = password_hash
        self._accepted: set[str] = set()

    def _authorized(self, scope: Scope) -> bool:
        header = _headers(scope).get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value.strip():
            return False
        if value in self._accepted:
            return True
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        if password_matches(self.password_hash, password):
            self._accepted.add(value)
            return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = b"authentication required\n"
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", b'Basic realm="provenance dashboard", charset="UTF-8"'),
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
