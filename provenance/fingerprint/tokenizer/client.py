"""HTTP clients that ask an endpoint how many input tokens one user message costs.

Two API styles, one contract (:meth:`CountClient.count`): send a single user message, return the
prompt-token count the server reports. Everything a server can do wrong becomes an
:class:`EndpointError` whose message is one line, safe to show (never the key):

* OpenAI-compatible: ``POST {base}/chat/completions`` with ``max_tokens: 1``, read
  ``usage.prompt_tokens``. ``base`` is what the SDK takes (``…/v1``; a bare host gets ``/v1``).
* Anthropic: ``POST {base}/v1/messages/count_tokens`` (no generation, no cost) and read
  ``input_tokens``; if the endpoint answers 404/405 there, ``POST {base}/v1/messages`` with
  ``max_tokens: 1`` and read ``usage.input_tokens``. ``base`` has no ``/v1``.

Transport, retries (429 and 5xx, waiting ``Retry-After``, capped) and the request budget are
the shared :mod:`provenance.fingerprint.http`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provenance.fingerprint.http import (
    ANTHROPIC_VERSION,
    RETRY_STATUSES,
    BudgetSpent,
    EndpointClient,
    EndpointError,
)

__all__ = ["ANTHROPIC_VERSION", "RETRY_STATUSES", "BudgetSpent", "CountClient", "EndpointError"]


@dataclass
class CountClient:
    """Counts prompt tokens of one user message at ``base_url`` for ``model``.

    ``api`` is ``"openai"`` or ``"anthropic"``; ``method`` records what was actually used
    (``chat.completions``, ``messages.count_tokens`` or ``messages``) once a count succeeded.
    ``requests_sent`` counts every HTTP request (retries and the count_tokens probe included);
    with ``max_requests`` set, a request beyond it raises :class:`BudgetSpent` instead. The
    transport is :class:`~provenance.fingerprint.http.EndpointClient` (base URL, retries).
    """

    base_url: str
    model: str
    api: str = "openai"
    api_key: str | None = None
    timeout: float = 60.0
    max_attempts: int = 3
    max_wait: float = 30.0
    max_requests: int | None = None
    method: str | None = None
    _count_tokens_ok: bool | None = None
    _http: EndpointClient = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._http = EndpointClient(
            self.base_url,
            api=self.api,
            api_key=self.api_key,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            max_wait=self.max_wait,
            max_requests=self.max_requests,
        )

    def set_budget(self, max_requests: int | None) -> None:
        """At most ``max_requests`` HTTP requests from now on (counted since the start)."""
        self.max_requests = self._http.max_requests = max_requests

    @property
    def requests_sent(self) -> int:
        return self._http.requests_sent

    def __enter__(self) -> CountClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    # -------------------------------------------------------------------------- public

    def count(self, text: str) -> int:
        """Prompt tokens the server reports for one user message ``text``."""
        if self.api == "openai":
            return self._openai(text)
        return self._anthropic(text)

    # -------------------------------------------------------------------------- styles

    def _openai(self, text: str) -> int:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": text}],
            "max_tokens": 1,
            "temperature": 0,
            "stream": False,
        }
        doc = self._post_json("/chat/completions", body)
        self.method = "chat.completions"
        return _usage_int(doc, ("usage", "prompt_tokens"))

    def _anthropic(self, text: str) -> int:
        messages = [{"role": "user", "content": text}]
        if self._count_tokens_ok is not False:
            try:
                doc = self._post_json(
                    "/v1/messages/count_tokens",
                    {"model": self.model, "messages": messages},
                    fallback_statuses=(404, 405),
                )
            except _Fallback:
                self._count_tokens_ok = False
            else:
                self._count_tokens_ok = True
                self.method = "messages.count_tokens"
                return _usage_int(doc, ("input_tokens",))
        body = {"model": self.model, "messages": messages, "max_tokens": 1, "temperature": 0}
        doc = self._post_json("/v1/messages", body)
        self.method = "messages"
        return _usage_int(doc, ("usage", "input_tokens"))

    # -------------------------------------------------------------------------- answers

    def _post_json(
        self, path: str, body: dict[str, Any], *, fallback_statuses: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        answer = self._http.post(path, body)
        shown = self._http.shown.rstrip("/") + path
        if answer.status in fallback_statuses:
            raise _Fallback
        if answer.status >= 400:
            raise EndpointError(f"HTTP {answer.status} from {shown}: {answer.error_text()}")
        if answer.doc is None:
            raise EndpointError(f"non-JSON answer from {shown} ({answer.content_type})")
        if not isinstance(answer.doc, dict):
            raise EndpointError(f"answer from {shown} is not a JSON object")
        return answer.doc


class _Fallback(Exception):
    """count_tokens is not offered here (404/405): use the messages endpoint instead."""


def _usage_int(doc: dict[str, Any], path: tuple[str, ...]) -> int:
    value: Any = doc
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise EndpointError(f"the answer carries no {'.'.join(path)} count")
    return value
