"""The probe channel: how every fingerprint stage reaches the audited product.

A stage never builds HTTP requests itself. It hands a :class:`Probe` (the prompt text and the
options it would like) to a :class:`Channel` and reads the :class:`Reply`: the reply text as the
pieces arrived, the usage counts if the product reports any, logprobs if any, the model id if
any, the HTTP status. Three kinds of channel (see ``docs/fingerprint-products.md``):

* ``api``: a provider-shaped API at a URL the auditor types — OpenAI chat, Anthropic messages,
  Gemini ``generateContent``, Bedrock ``converse`` (:mod:`.api`);
* ``replay``: a stored exchange of the product itself, re-sent with the prompt replaced by the
  probe (:mod:`.replay`);
* ``guided``: the auditor sends each probe through the product's own client while
  ``provenance capture`` records; the channel waits for the exchange that carries it
  (:mod:`.guided`).

Contract of :meth:`Channel.send`: it returns a :class:`Reply` for every answer the product gave,
whatever its status (``reply.error`` then says what went wrong, on one line); it raises
:class:`~provenance.fingerprint.http.BudgetSpent` before sending when the request budget is
spent, and :class:`ChannelError` when no answer could be had at all (unreachable, a guided probe
that never arrived, a request that would still carry a redacted placeholder). Options a channel
cannot honour are ignored, never faked: a product that reports no usage gives
``reply.prompt_tokens is None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from provenance.errors import FingerprintError
from provenance.fingerprint.http import BudgetSpent

__all__ = ["BudgetSpent", "Channel", "ChannelError", "Probe", "Reply", "TokenLogprob"]


class ChannelError(FingerprintError):
    """No answer could be had through the channel; ``str()`` is the one-line reason."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe to send. ``text`` is the whole user message; ``max_tokens`` and
    ``temperature`` are wishes (``None``: leave the product's own setting); ``top_logprobs``
    asks for logprobs where the channel has them; ``count_only``: the caller needs only the
    prompt-token count, so a channel may use a counting endpoint that generates nothing."""

    text: str
    id: str = ""
    max_tokens: int | None = 1
    temperature: float | None = 0.0
    top_logprobs: int | None = None
    count_only: bool = False


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One generated token as the product reported it, with its top alternatives."""

    text: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(slots=True)
class Reply:
    """What the product answered to one probe.

    ``pieces`` is the reply text as it arrived (one piece per stream frame; one piece for a
    whole-body reply); ``prompt_tokens``/``completion_tokens`` the usage the product reported
    (``None``: not reported); ``model`` the model id the reply names; ``exchange_id`` the stored
    exchange this reply is (replay stores what it sends; guided matched it); ``error`` a
    one-line reason when the reply is not usable (HTTP 4xx/5xx, unreadable body).
    """

    status: int | None
    pieces: tuple[str, ...] = ()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    logprobs: tuple[TokenLogprob, ...] | None = None
    model: str | None = None
    exchange_id: int | None = None
    error: str | None = None
    method: str | None = None  # what the channel actually used, e.g. "messages.count_tokens"
    streamed: bool = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400


@runtime_checkable
class Channel(Protocol):
    """A way to put probes to the audited product (see the module docstring)."""

    kind: str  # "api", "replay" or "guided"
    requests_sent: int

    def send(self, probe: Probe) -> Reply:
        """Send one probe and return the product's reply (see the module contract)."""
        ...

    def set_budget(self, max_requests: int | None) -> None:
        """At most ``max_requests`` requests in all from now on (counted since the start)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Evidence for the run document: ``kind``, ``target`` (safe to show), ``model``,
        ``api`` and, for replay and guided, ``template_exchange`` / ``exchanges``."""
        ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Budget:
    """A request budget shared by a channel's sends (``None``: unlimited)."""

    max_requests: int | None = None
    sent: int = 0
    exchanges: list[int] = field(default_factory=list)

    def take(self) -> None:
        """Count one request; :class:`BudgetSpent` when none is left (nothing is sent)."""
        if self.max_requests is not None and self.sent >= self.max_requests:
            raise BudgetSpent(f"the budget of {self.max_requests} requests is spent")
        self.sent += 1
