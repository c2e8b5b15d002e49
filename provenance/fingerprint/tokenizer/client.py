"""HTTP clients that ask an endpoint how many input tokens one user message costs.

Two API styles, one contract (:meth:`CountClient.count`): send a single user message, return the
prompt-token count the server reports. Everything a server can do wrong becomes an
:class:`EndpointError` whose message is one line, safe to show (never the key):

* OpenAI-compatible: ``POST {base}/chat/completions`` with ``max_tokens: 1``, read
  ``usage.prompt_tokens``. ``base`` is what the SDK takes (``…/v1``).
* Anthropic: ``POST {base}/v1/messages/count_tokens`` (no generation, no cost) and read
  ``input_tokens``; if the endpoint answers 404/405 there, ``POST {base}/v1/messages`` with
  ``max_tokens: 1`` and read ``usage.input_tokens``. ``base`` has no ``/v1``.

429 and 5xx answers are retried a bounded number of times, waiting ``Retry-After`` (capped).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

ANTHROPIC_VERSION = "2023-06-01"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})


class EndpointError(Exception):
    """The endpoint did not give a usable count; ``str()`` is the one-line reason."""


class BudgetSpent(EndpointError):
    """``max_requests`` HTTP requests were sent (retries and fallbacks count too)."""


@dataclass
class CountClient:
    """Counts prompt tokens of one user message at ``base_url`` for ``model``.

    ``api`` is ``"openai"`` or ``"anthropic"``; ``method`` records what was actually used
    (``chat.completions``, ``messages.count_tokens`` or ``messages``) once a count succeeded.
    ``requests_sent`` counts every HTTP request (retries and the count_tokens probe included);
    with ``max_requests`` set, a request beyond it raises :class:`BudgetSpent` instead.
    """

    base_url: str
    model: str
    api: str = "openai"
    api_key: str | None = None
    timeout: float = 60.0
    max_attempts: int = 3
    max_wait: float = 30.0
    max_requests: int | None = None
    requests_sent: int = 0
    method: str | None = None
    _count_tokens_ok: bool | None = None
    _client: httpx.Client | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.api not in ("openai", "anthropic"):
            raise ValueError(f"unknown api {self.api!r}")
        self.base_url = self.base_url.rstrip("/")

    def __enter__(self) -> CountClient:
        self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -------------------------------------------------------------------------- public

    def count(self, text: str) -> int:
        """Prompt tokens the server reports for one user message ``text``."""
        if self.api == "openai":
            return self._openai(text)
        return self._anthropic(text)

    # -------------------------------------------------------------------------- styles

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.api == "openai":
            if self.api_key:
                headers["authorization"] = f"Bearer {self.api_key}"
        else:
            headers["anthropic-version"] = ANTHROPIC_VERSION
            if self.api_key:
                headers["x-api-key"] = self.api_key
        return headers

    def _openai(self, text: str) -> int:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": 1,
            "temperature": 0,
            "stream": False,
        }
        doc = self._post_json(self._url("/chat/completions"), body)
        self.method = "chat.completions"
        return _usage_int(doc, ("usage", "prompt_tokens"))

    def _anthropic(self, text: str) -> int:
        messages = [{"role": "user", "content": text}]
        if self._count_tokens_ok is not False:
            url = self._url("/v1/messages/count_tokens")
            try:
                doc = self._post_json(
                    url, {"model": self.model, "messages": messages}, fallback_statuses=(404, 405)
                )
            except _Fallback:
                self._count_tokens_ok = False
            else:
                self._count_tokens_ok = True
                self.method = "messages.count_tokens"
                return _usage_int(doc, ("input_tokens",))
        body = {"model": self.model, "messages": messages, "max_tokens": 1, "temperature": 0}
        doc = self._post_json(self._url("/v1/messages"), body)
        self.method = "messages"
        return _usage_int(doc, ("usage", "input_tokens"))

    # -------------------------------------------------------------------------- transport

    def _url(self, suffix: str) -> httpx.URL:
        """``suffix`` appended to the base URL's path (its query, e.g. an api-version, is kept)."""
        base = httpx.URL(self.base_url)
        return base.copy_with(path=base.path.rstrip("/") + suffix)

    def _post_json(
        self, url: httpx.URL, body: dict[str, Any], *, fallback_statuses: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        shown = _display(url)
        client = self._client or httpx.Client(timeout=self.timeout, follow_redirects=False)
        try:
            for attempt in range(1, self.max_attempts + 1):
                if self.max_requests is not None and self.requests_sent >= self.max_requests:
                    raise BudgetSpent(f"the budget of {self.max_requests} requests is spent")
                self.requests_sent += 1
                try:
                    resp = client.post(url, json=body, headers=self._headers())
                except httpx.HTTPError as exc:
                    if attempt == self.max_attempts:
                        raise EndpointError(f"cannot reach {shown}: {type(exc).__name__}") from None
                    time.sleep(min(1.0 * attempt, self.max_wait))
                    continue
                if resp.status_code in fallback_statuses:
                    raise _Fallback
                if resp.status_code in RETRY_STATUSES and attempt < self.max_attempts:
                    time.sleep(_retry_after(resp, attempt, self.max_wait))
                    continue
                if resp.status_code >= 400:
                    raise EndpointError(
                        f"HTTP {resp.status_code} from {shown}: {_error_text(resp)}"
                    )
                try:
                    doc = resp.json()
                except ValueError:
                    ctype = resp.headers.get("content-type", "?")
                    raise EndpointError(f"non-JSON answer from {shown} ({ctype})") from None
                if not isinstance(doc, dict):
                    raise EndpointError(f"answer from {shown} is not a JSON object")
                return doc
            raise EndpointError(f"gave up on {shown} after {self.max_attempts} attempts")
        finally:
            if self._client is None:
                client.close()


class _Fallback(Exception):
    """count_tokens is not offered here (404/405): use the messages endpoint instead."""


def _display(url: httpx.URL) -> str:
    """``url`` without userinfo, query or fragment: safe in messages."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _retry_after(resp: httpx.Response, attempt: int, cap: float) -> float:
    value = resp.headers.get("retry-after")
    try:
        wait = float(value) if value is not None else 2.0**attempt
    except ValueError:
        wait = 2.0**attempt
    return max(0.0, min(wait, cap))


def _error_text(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
        err = doc.get("error") if isinstance(doc, dict) else None
        msg = err.get("message") if isinstance(err, dict) else err
        text = str(msg or doc)
    except ValueError:
        text = resp.text
    return " ".join(text.split())[:200] or "no message"


def _usage_int(doc: dict[str, Any], path: tuple[str, ...]) -> int:
    value: Any = doc
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise EndpointError(f"the answer carries no {'.'.join(path)} count")
    return value
