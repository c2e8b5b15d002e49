"""``CountClient``: the tokenizer stage's old counting client, now a thin layer over
:class:`~provenance.fingerprint.channel.api.ApiChannel` (issue 26). New code sends probes
through a channel; this keeps ``count(text) -> int`` for callers not moved yet, and is itself a
channel (same constructor, ``send``, ``describe``, ``method``, ``requests_sent``).

:meth:`CountClient.count` sends one ``count_only`` probe (``max_tokens`` 1, temperature 0) and
returns the prompt-token count the server reports; an error reply, a reply without a count and
an unreachable endpoint raise :class:`EndpointError` (one line, never the key), a spent budget
:class:`BudgetSpent`.
"""

from __future__ import annotations

from provenance.fingerprint.channel import Probe
from provenance.fingerprint.channel.api import PROMPT_FIELDS, ApiChannel
from provenance.fingerprint.http import (
    ANTHROPIC_VERSION,
    RETRY_STATUSES,
    BudgetSpent,
    EndpointError,
)

__all__ = ["ANTHROPIC_VERSION", "RETRY_STATUSES", "BudgetSpent", "CountClient", "EndpointError"]


class CountClient(ApiChannel):
    """Counts prompt tokens of one user message at ``base_url`` for ``model`` (see above)."""

    def count(self, text: str) -> int:
        """Prompt tokens the server reports for one user message ``text``."""
        reply = self.send(Probe(text, max_tokens=1, temperature=0, count_only=True))
        if reply.error is not None:
            raise EndpointError(reply.error)
        if reply.prompt_tokens is None:
            field = PROMPT_FIELDS.get(reply.method or "", "prompt-token")
            raise EndpointError(f"the answer carries no {field} count")
        return reply.prompt_tokens
