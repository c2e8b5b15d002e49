"""Admission control for ``serve-reference``: a bounded number of requests at work, a bounded
queue, and an answer at once for the rest.

:class:`Admission` is ASGI middleware that goes outermost (in front of the request guard, which
reads the body), so that a request waiting for a slot holds no body: only its headers have been
read, and uvicorn stops reading a connection's socket once 64 KiB of its body are buffered.

* At most ``max_active`` POST requests are handled at once (reading the body included). The
  model runs one request at a time anyway; a second slot lets tokenizing and answering overlap.
* At most ``max_queued`` more wait, first come first served, for a slot.
* Any request beyond those gets **503** at once, with ``Retry-After`` and an OpenAI-style error
  body (clients such as :class:`~provenance.reference.http.HttpJson` retry on it).
* An admitted request's body must arrive within ``body_timeout`` seconds, or it gets **408** and
  loses its slot: a client that sends headers and then nothing cannot hold a slot for ever.

GET requests (``/health``, ``/v1/models``) are cheap and pass without a slot. State lives in one
event loop (uvicorn's); no locks.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from provenance.reference.bodies import error_document

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_CONCURRENCY = 2
MAX_QUEUE = 16
BODY_TIMEOUT = 30.0  # seconds for an admitted request's whole body to arrive
RETRY_AFTER = 1  # seconds, sent with 503


class _BodyTimeout(Exception):
    """Raised from ``receive`` when an admitted request's body is late (caught here)."""


class Admission:
    """ASGI middleware enforcing the rules in the module docstring around ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_active: int = MAX_CONCURRENCY,
        max_queued: int = MAX_QUEUE,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        if max_active < 1 or max_queued < 0 or body_timeout <= 0:
            raise ValueError("max_active >= 1, max_queued >= 0 and body_timeout > 0 are needed")
        self.app = app
        self.max_active = max_active
        self.max_queued = max_queued
        self.body_timeout = body_timeout
        self.active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        """Requests waiting for a slot now."""
        return sum(1 for f in self._waiting if not f.done())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if not await self._enter():
            message = (
                f"the server is busy ({self.active} requests at work, {self.queued} waiting; "
                "see --max-concurrency and --max-queue); retry later"
            )
            await _send_error(send, 503, message, "server_busy", retry_after=RETRY_AFTER)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._deadline(receive), tracked)
        except _BodyTimeout:
            if not started:
                message = f"the request body did not arrive within {self.body_timeout:g} s"
                await _send_error(send, 408, message, "request_timeout")
        finally:
            self._leave()

    async def _enter(self) -> bool:
        """Take a slot, waiting in the queue if there is room there; False: refused."""
        if self.active < self.max_active and not self.queued:
            self.active += 1
            return True
        if self.queued >= self.max_queued:
            return False
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(ticket)
        try:
            await ticket  # _leave hands its slot over by resolving the ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self._leave()  # the slot was handed over as we were cancelled: pass it on
            raise
        return True

    def _leave(self) -> None:
        """Give the slot to the first live waiter, else free it."""
        while self._waiting:
            ticket = self._waiting.popleft()
            if not ticket.done():
                ticket.set_result(None)
                return
        self.active -= 1

    def _deadline(self, receive: Receive) -> Receive:
        """``receive``, raising :class:`_BodyTimeout` when the body is not complete within
        ``body_timeout`` seconds of admission; unbounded once it is."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.body_timeout
        complete = False

        async def timed() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, end - loop.time()))
            except TimeoutError:
                raise _BodyTimeout from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        return timed


async def _send_error(
    send: Send, status: int, message: str, kind: str, *, retry_after: int | None = None
) -> None:
    body = json.dumps(error_document(status, message, kind)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the request's body may be unread
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
