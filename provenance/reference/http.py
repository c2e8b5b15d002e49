"""One JSON-over-HTTP call with bounded retries (timeouts, connection errors, 429 and 5xx)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from provenance.errors import FingerprintError

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class HttpJson:
    """A small client: ``call()`` returns (status, parsed JSON or None); retries are bounded.

    ``max_retries`` extra attempts follow a timeout, a connection error or a status in
    ``RETRY_STATUS``; the wait doubles from ``backoff`` seconds, or follows ``Retry-After``
    (capped at ``max_wait``). ``attempts`` counts every HTTP attempt made.
    """

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 120.0
    max_retries: int = 3
    backoff: float = 0.5
    max_wait: float = 10.0
    attempts: int = 0
    _client: Any = None

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(timeout=self.timeout, headers=self.headers)
        return self._client

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """``method`` ``base_url + path``; the final status and JSON body (None if not JSON)."""
        import httpx

        url = self.base_url.rstrip("/") + path
        wait = self.backoff
        last_error = ""
        for attempt in range(self.max_retries + 1):
            self.attempts += 1
            try:
                resp = self._http().request(method, url, json=body)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_error = type(exc).__name__
            else:
                if resp.status_code not in RETRY_STATUS or attempt == self.max_retries:
                    try:
                        return resp.status_code, resp.json()
                    except ValueError:
                        return resp.status_code, None
                last_error = f"HTTP {resp.status_code}"
                after = resp.headers.get("retry-after", "")
                if after.replace(".", "", 1).isdigit():
                    wait = float(after)
            if attempt < self.max_retries:
                time.sleep(min(wait, self.max_wait))
                wait *= 2
        raise FingerprintError(
            f"{_public(url)} failed after {self.max_retries + 1} attempts ({last_error}); "
            "check that the server is up, or retry later"
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _public(url: str) -> str:
    """``url`` without userinfo or query string (never print a secret)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
