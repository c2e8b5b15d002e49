"""The few ASGI pieces provenance's own middleware shares (:mod:`provenance.netguard`,
:mod:`provenance.gate`): the callable types, reading a request's headers, and refusing a
request with a short plain-text answer (or a WebSocket handshake by closing it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_headers(scope: Scope) -> dict[str, str]:
    """Header name (lower case) → value: the first of repeated headers, decoded as latin-1 as
    HTTP defines it."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers") or []:
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


async def respond(
    send: Send, status: int, reason: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer an HTTP request with ``status`` and ``reason`` (plus a newline) as a UTF-8 text
    body, ``headers`` first, and ``Connection: close``."""
    body = (reason + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    reason: str,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Refuse an HTTP request with :func:`respond`, or close a WebSocket handshake (code 1008,
    which the server sends as HTTP 403: ``status``, ``reason`` and ``headers`` are not sent)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
    else:
        await respond(send, status, reason, headers)
