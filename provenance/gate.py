"""The dashboard's password gate: HTTP Basic authentication against a scrypt hash, for a
dashboard served beyond loopback (``provenance dashboard --allow-remote --password-env VAR``).

:class:`PasswordGate` is ASGI middleware, placed behind :class:`provenance.netguard.RequestGuard`.
It holds under guessing: a client address (:func:`client_key`) that keeps failing waits longer
and longer (:class:`Throttle`; 429, without its password being checked), scrypt
(:func:`provenance.passwords.password_matches`) runs in a small thread pool beside the event
loop, and users already logged in are answered from a memo.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from provenance.asgi import ASGIApp, Receive, Scope, Send, refuse, request_headers
from provenance.passwords import password_matches


def client_key(scope: Scope) -> str:
    """Whom a request is throttled as: its peer's IP address; for IPv6 its /64 network (one
    host's share, which an attacker can otherwise walk through); ``unknown`` without one."""
    client = scope.get("client")
    if not client:
        return "unknown"
    host = str(client[0])
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Failures:
    count: int
    locked_until: float


class Throttle:
    """Consecutive wrong passwords per client, and how long the client must wait.

    The first ``free_failures`` cost nothing; each one after that locks the client out for
    ``base_delay`` seconds, doubling up to ``max_delay``. A client's count is cleared by a right
    password, and forgotten ``forget_after`` seconds after its last delay ended. At most
    ``max_clients`` are remembered (the least recently seen is dropped first), so the table's
    memory is bounded whatever the number of addresses that guess."""

    def __init__(
        self,
        *,
        free_failures: int = 5,
        base_delay: float = 2.0,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_clients = max_clients
        self.clock = clock
        self._clients: OrderedDict[str, _Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._clients)

    def _get(self, key: str, now: float) -> _Failures | None:
        entry = self._clients.get(key)
        if entry is None:
            return None
        if now >= entry.locked_until + self.forget_after:
            del self._clients[key]
            return None
        self._clients.move_to_end(key)
        return entry

    def retry_after(self, key: str) -> float:
        """Seconds ``key`` must still wait before its next password is checked (0: none)."""
        now = self.clock()
        entry = self._get(key, now)
        return max(0.0, entry.locked_until - now) if entry else 0.0

    def failed(self, key: str) -> float:
        """Count a wrong password from ``key``; return the delay it now has to wait."""
        now = self.clock()
        entry = self._get(key, now)
        if entry is None:
            entry = self._clients[key] = _Failures(0, now)
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        entry.count += 1
        beyond = entry.count - self.free_failures
        delay = (
            0.0 if beyond <= 0 else min(self.max_delay, self.base_delay * 2 ** min(beyond - 1, 64))
        )
        entry.locked_until = now + delay
        return delay

    def succeeded(self, key: str) -> None:
        """A right password from ``key``: its count starts again from zero."""
        self._clients.pop(key, None)


_REALM = (b"www-authenticate", b'Basic realm="provenance dashboard", charset="UTF-8"')


class PasswordGate:
    """ASGI middleware: HTTP Basic authentication against a scrypt hash, for every request and
    WebSocket handshake (browsers resend the credentials to the same origin).

    The user name is not checked. A request without credentials, or whose password is wrong,
    gets 401. A credential once verified is remembered (up to ``max_remembered`` of them), so a
    logged-in user's requests never wait for scrypt. Every other check runs in a pool of
    ``max_checks`` threads, never on the event loop, and is throttled per client address
    (:class:`Throttle`, :func:`client_key`): while a client is locked out, or while a check of
    another password from its address is still running, or while ``max_pending`` checks are
    already under way, it gets 429 with ``Retry-After`` and its password is not checked.
    Requests that carry the same new credential at once share one check."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        password_hash: str,
        throttle: Throttle | None = None,
        max_checks: int = 2,
        max_pending: int = 32,
        max_remembered: int = 256,
    ) -> None:
        self.app = app
        self.password_hash = password_hash
        self.throttle = throttle if throttle is not None else Throttle()
        self.max_checks = max_checks
        self.max_pending = max_pending
        self.max_remembered = max_remembered
        self._accepted: OrderedDict[str, None] = OrderedDict()
        self._checking: dict[str, tuple[str, asyncio.Task[bool]]] = {}
        self._pool: ThreadPoolExecutor | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = _basic_token(scope)
        if token is not None and token in self._accepted:
            self._accepted.move_to_end(token)
            await self.app(scope, receive, send)
            return
        if token is None:
            await refuse(scope, send, 401, "authentication required", [_REALM])
            return
        key = client_key(scope)
        wait = self.throttle.retry_after(key)
        if wait > 0:
            await refuse(scope, send, 429, _too_many(wait), [_retry_after(wait)])
            return
        verdict = await self._check(key, token)
        if verdict is None:
            busy = "a password check from this address is still running: try again in 1 s"
            await refuse(scope, send, 429, busy, [_retry_after(1)])
        elif verdict:
            await self.app(scope, receive, send)
        else:
            await refuse(scope, send, 401, "authentication required", [_REALM])

    async def _check(self, key: str, token: str) -> bool | None:
        """Whether ``token``'s password is right; None when it cannot be checked now (another
        check from ``key`` is running, or too many are)."""
        running = self._checking.get(key)
        if running is not None:
            same, task = running
            return await asyncio.shield(task) if same == token else None
        if len(self._checking) >= self.max_pending:
            return None
        task = asyncio.ensure_future(self._verify(key, token))
        self._checking[key] = (token, task)
        return await asyncio.shield(task)  # a client that goes away does not cancel the check

    async def _verify(self, key: str, token: str) -> bool:
        try:
            password = _basic_password(token)
            if password is None:
                ok = False
            else:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.max_checks, "provenance-password")
                loop = asyncio.get_running_loop()
                ok = await loop.run_in_executor(
                    self._pool, password_matches, self.password_hash, password
                )
        finally:
            del self._checking[key]
        if ok:
            self.throttle.succeeded(key)
            self._accepted[token] = None
            while len(self._accepted) > self.max_remembered:
                self._accepted.popitem(last=False)
        else:
            self.throttle.failed(key)
        return ok


def _basic_token(scope: Scope) -> str | None:
    """The credentials of an ``Authorization: Basic …`` header, as sent; None without."""
    scheme, _, value = request_headers(scope).get("authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "basic" and value else None


def _basic_password(token: str) -> str | None:
    """The password in Basic credentials (``base64(user:password)``); None when malformed."""
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    _user, colon, password = decoded.partition(":")
    return password if colon else None


def _too_many(wait: float) -> str:
    return f"too many wrong passwords from this address: try again in {math.ceil(wait)} s"


def _retry_after(wait: float) -> tuple[bytes, bytes]:
    return b"retry-after", str(max(1, math.ceil(wait))).encode()
