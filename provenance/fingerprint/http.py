"""One HTTP client for the audited endpoint, shared by both fingerprint stages.

The pattern of lm-eval-harness's API models: one client owns the transport — one base-URL
convention, one retry policy, one request budget, one error type — and each stage supplies its
per-API payloads and reads the answers (:mod:`.channel.api`, :mod:`.logits.endpoint`).

* **Base URL**: what the provider's own SDK takes. ``api="openai"``: ``…/v1`` (a URL with no
  path gets ``/v1``, the SDK's default), and paths are appended to it: ``/chat/completions``,
  ``/completions``. ``api="anthropic"``: the host root (a trailing ``/v1`` is dropped), paths
  ``/v1/messages…``. ``api="gemini"``: the host root or a base ending in its API version
  (``/v1beta``, ``/v1``, ``/v1alpha``); one without a version gets ``/v1beta``, paths
  ``/models/{model}:generateContent``. ``api="bedrock"``: the runtime host root
  (``https://bedrock-runtime.{region}.amazonaws.com``), paths ``/model/{modelId}/converse``.
  The base's query (Azure's ``api-version``) is kept on every request.
* **Auth**: ``openai`` and ``bedrock`` (a Bedrock API key) send ``Authorization: Bearer``;
  ``anthropic`` sends ``x-api-key`` and ``anthropic-version``; ``gemini`` ``x-goog-api-key``.
  AWS SigV4 signing is not done here.
* **Retries**: a connection error or timeout, and HTTP 429/5xx/529, are retried; at most
  ``max_attempts`` attempts in all, waiting ``Retry-After`` (capped at ``max_wait``) or 1, 2,
  4 … seconds. The last answer is returned whatever its status.
* **Budget**: every HTTP attempt counts (``requests_sent``); one beyond ``max_requests`` raises
  :class:`BudgetSpent` before anything is sent.
* **Errors**: :class:`EndpointError`, one line, never the key nor the URL's query.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from provenance.errors import FingerprintError

ANTHROPIC_VERSION = "2023-06-01"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
APIS = ("openai", "anthropic", "gemini", "bedrock")
GEMINI_VERSION = "v1beta"
_GEMINI_VERSIONED = re.compile(r"/v\d+(?:alpha|beta)?\d*$")


class EndpointError(FingerprintError):
    """The endpoint did not answer usefully; ``str()`` is the one-line reason."""


class BudgetSpent(EndpointError):
    """``max_requests`` HTTP requests were sent (retries and fallbacks count too)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """The final answer to one :meth:`EndpointClient.post`: status and parsed JSON (None if
    the body is not JSON)."""

    status: int
    doc: Any
    content_type: str
    text: str  # the body's first characters, for error messages

    def error_text(self) -> str:
        """The server's own error message, on one line (at most 200 characters)."""
        doc = self.doc
        if isinstance(doc, dict):
            err = doc.get("error", doc.get("message"))
            msg = err.get("message") if isinstance(err, dict) else err
            text = str(msg if msg is not None else doc)
        else:
            text = self.text
        return " ".join(text.split())[:200] or "no message"


def public_url(url: str | httpx.URL) -> str:
    """``url`` without userinfo, query or fragment: safe in messages."""
    url = httpx.URL(str(url))
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def normalised_base(base_url: str, api: str) -> httpx.URL:
    """The base URL by the convention above (see the module docstring)."""
    base = httpx.URL(base_url)
    path = base.path.rstrip("/")
    if api == "openai" and not path:
        path = "/v1"
    elif api == "anthropic" and path.endswith("/v1"):
        path = path[:-3]
    elif api == "gemini" and not _GEMINI_VERSIONED.search(path):
        path += "/" + GEMINI_VERSION
    return base.copy_with(path=path or "/")


class EndpointClient:
    """JSON POSTs to one audited endpoint (see the module docstring for the contract)."""

    def __init__(
        self,
        base_url: str,
        *,
        api: str = "openai",
        api_key: str | None = None,
        timeout: float = 60.0,
        max_attempts: int = 3,
        max_wait: float = 30.0,
        max_requests: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if api not in APIS:
            raise ValueError(f"unknown api {api!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.api = api
        self.base = normalised_base(base_url, api)
        self.api_key = api_key
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.max_requests = max_requests
        self.requests_sent = 0
        self._sleep = sleep
        self._client: httpx.Client | None = None

    def __enter__(self) -> EndpointClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def shown(self) -> str:
        """The base URL as it may be shown (no key, no query)."""
        return public_url(self.base)

    def url(self, path: str) -> httpx.URL:
        """``path`` appended to the base URL's path (its query kept)."""
        return self.base.copy_with(path=self.base.path.rstrip("/") + path)

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.api == "anthropic":
            headers["anthropic-version"] = ANTHROPIC_VERSION
            if self.api_key:
                headers["x-api-key"] = self.api_key
        elif self.api == "gemini":
            if self.api_key:
                headers["x-goog-api-key"] = self.api_key
        elif self.api_key:  # openai, and bedrock's API keys
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    def post(self, path: str, body: dict[str, Any]) -> Answer:
        """POST ``body`` to ``path`` with the retry policy; the last answer, any status.

        Raises :class:`BudgetSpent` when no request is left, :class:`EndpointError` when the
        endpoint cannot be reached at all.
        """
        url = self.url(path)
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        for attempt in range(1, self.max_attempts + 1):
            if self.max_requests is not None and self.requests_sent >= self.max_requests:
                raise BudgetSpent(f"the budget of {self.max_requests} requests is spent")
            self.requests_sent += 1
            try:
                resp = self._client.post(url, json=body, headers=self.headers())
            except httpx.HTTPError as exc:
                if attempt == self.max_attempts:
                    raise EndpointError(
                        f"cannot reach {public_url(url)}: {type(exc).__name__} after "
                        f"{attempt} attempt(s); check the URL and that the server is up"
                    ) from None
                self._sleep(min(2.0 ** (attempt - 1), self.max_wait))
                continue
            if resp.status_code in RETRY_STATUSES and attempt < self.max_attempts:
                self._sleep(_retry_after(resp, attempt, self.max_wait))
                continue
            return _answer(resp)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns


def _answer(resp: httpx.Response) -> Answer:
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    return Answer(resp.status_code, doc, resp.headers.get("content-type", "?"), resp.text[:400])


def _retry_after(resp: httpx.Response, attempt: int, cap: float) -> float:
    value = resp.headers.get("retry-after")
    try:
        wait = float(value) if value is not None else 2.0**attempt
    except ValueError:
        wait = 2.0**attempt
    return max(0.0, min(wait, cap))
