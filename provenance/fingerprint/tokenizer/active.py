"""The active tokenizer fingerprint through a probe channel: ≤ N requests, open-set decision.

Request 1 sends the baseline text, requests 2…N the ranked probes (``fingerprints/probes``),
through any :class:`~provenance.fingerprint.channel.Channel` (an API, a replayed exchange of the
product, or the product's own client, guided).

* **Usage reported**: the count for probe ``p`` minus the count for the baseline is compared with
  every signature (:mod:`.scoring`). Products wrap the user's text in hidden system prompts, tool
  definitions and templates; all of that is the same in every request and cancels in the
  differences. Where nothing matches and every probe added at least the whole baseline prompt
  again, the reason says the product may count per session (or kept the conversation).
* **No usage at all**: the replies' streamed text is the evidence — the stream-boundary
  fingerprint (:mod:`.boundary`) over every reply, and the document says usage was missing.

Any failure of the channel (an HTTP error, an unreadable reply, a guided probe that never
arrived, the budget) ends the run with ``verdict: null`` and the reason, keeping what was
answered so far (``partial: true``); nothing raises for those. A probe the template cannot carry
(a missing secret, a bad path) is the auditor's to fix and raises before anything more is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from provenance.fingerprint.channel import BudgetSpent, Channel, ChannelError, Probe, Reply
from provenance.fingerprint.tokenizer.scoring import CandidateScore, decide, expected_deltas, rank
from provenance.tokenizers.probes import ProbeSet
from provenance.tokenizers.signatures import Signature

RESULT_SCHEMA = "provenance.tokenizer-fingerprint/1"
_NULL = {"verdict": None, "families": [], "specials": None, "alternatives": []}


def run_active(
    channel: Channel,
    probe_set: ProbeSet,
    signatures: list[Signature],
    *,
    max_requests: int = 4,
    handles: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Probe through ``channel`` and return the ``--json`` document (see the module docstring)."""
    from provenance.fingerprint.channel.template import TemplateError

    started = datetime.now(UTC)
    plan = list(probe_set.all())[: max(2, max_requests)]
    channel.set_budget(max_requests)
    reported: dict[str, int] = {}
    replies: dict[str, Reply] = {}
    failure: str | None = None
    truncated = False
    for probe in plan:
        try:
            reply = channel.send(Probe(probe.text, id=probe.id, max_tokens=1, count_only=True))
        except BudgetSpent as exc:
            truncated = True
            if len(replies) < 2:
                failure = str(exc)
            break
        except TemplateError:  # the auditor's to fix (a missing secret): nothing was sent
            raise
        except ChannelError as exc:
            failure = str(exc)
            break
        if reply.error is not None:
            failure = reply.error
            break
        replies[probe.id] = reply
        if reply.prompt_tokens is not None:
            reported[probe.id] = reply.prompt_tokens
        elif not reported and len(reply.pieces) < 2:
            break  # no usage and no stream: more requests would tell nothing more
    described = channel.describe()
    methods = [r.method for r in replies.values() if r.method]
    doc: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "target": described.get("target"),
        "model": described.get("model"),
        "api": described.get("api"),
        "method": methods[-1] if methods else described.get("kind"),
        "channel": described,
        "started_at": started.isoformat(),
        "probe_set": probe_set.id,
        "requests": channel.requests_sent,
        "baseline_reported": reported.get("baseline"),
        "probes_answered": max(0, len(replies) - 1),
        "usage_reported": bool(reported),
        "truncated": truncated,
        "partial": failure is not None and bool(replies),
        "failure": failure,
    }
    if described.get("product"):
        doc["product"] = described["product"]
    ranking: list[CandidateScore] = []
    observed = {
        p.id: reported[p.id] - reported["baseline"]
        for p in plan[1:]
        if p.id in reported and "baseline" in reported
    }
    if failure is not None and len(replies) < 2:
        decision = {**_NULL, "reason": f"endpoint failed: {failure}"}
    elif replies and not reported:
        decision = _from_streams(replies, signatures, handles)
        doc["method"] = "stream-boundaries"
        if failure is not None:
            decision["reason"] = f"{decision['reason']}; then the endpoint failed: {failure}"
    elif not observed:
        reason = "no probe was answered" if failure is None else f"endpoint failed: {failure}"
        if replies and failure is None:
            reason = "the baseline's usage was not reported, so no difference can be taken"
        decision = {**_NULL, "reason": reason}
    elif any(v <= 0 for v in observed.values()):
        decision = {
            **_NULL,
            "reason": "reported prompt tokens do not grow with the message; the usage "
            "is not computed from the prompt",
        }
        ranking = rank(signatures, observed, probe_set.digest)
    else:
        ranking = rank(signatures, observed, probe_set.digest)
        decision = decide(ranking, signatures)
        if decision["verdict"] is None and min(observed.values()) >= reported["baseline"]:
            decision["reason"] += (
                "; every probe added at least the whole baseline prompt again: the product may "
                "count usage per session or have kept the conversation (probe in a new session)"
            )
        if failure is not None:
            decision["reason"] = f"{decision['reason']} (partial run: {failure})"
    if "ranking" in decision:
        doc["stream_ranking"] = decision.pop("ranking")
    doc.update(decision)
    doc["ranking"] = [c.as_dict() for c in ranking] or doc.pop("stream_ranking", [])
    doc["evidence"] = _evidence(observed, reported, ranking, signatures, replies)
    return doc


def _from_streams(
    replies: dict[str, Reply], signatures: list[Signature], handles: dict[str, Any] | None
) -> dict[str, Any]:
    """The stream-boundary decision over the replies' text pieces (no usage was reported)."""
    from provenance.fingerprint.tokenizer.boundary import Stream, fingerprint_streams
    from provenance.fingerprint.tokenizer.passive import candidate_handles

    streams = [
        Stream(tuple(r.pieces), r.completion_tokens, f"probe {pid}")
        for pid, r in replies.items()
        if len(r.pieces) > 1
    ]
    if not streams:
        return {
            **_NULL,
            "reason": "the replies carry no usage counts, and no streamed text to read token "
            "boundaries from",
        }
    handles = handles if handles is not None else candidate_handles(signatures)
    found = fingerprint_streams(streams, handles, signatures)
    reason = f"the product reports no usage; decided from its stream boundaries: {found['reason']}"
    keep = ("verdict", "families", "specials", "alternatives", "ranking", "boundaries", "deltas")
    return {**{k: found[k] for k in keep if k in found}, "reason": reason}


def _evidence(
    observed: dict[str, int],
    reported: dict[str, int],
    ranking: list[CandidateScore],
    signatures: list[Signature],
    replies: dict[str, Reply],
) -> list[dict[str, Any]]:
    modes = {c.tokenizer: c.mode for c in ranking}
    usable = {
        s.id: s
        for s in signatures
        if any(c.tokenizer == s.id and c.status != "skipped" for c in ranking)
    }
    out = []
    if not reported:  # no usage: each reply's pieces were the evidence
        for probe, reply in replies.items():
            row: dict[str, Any] = {"probe": probe, "reported": None, "pieces": len(reply.pieces)}
            if reply.exchange_id is not None:
                row["exchange"] = reply.exchange_id
            out.append(row)
        return out
    for probe, obs in observed.items():
        expected: dict[str, int] = {}
        for sig_id, sig in usable.items():
            text, parsed = expected_deltas(sig, probe)
            if modes.get(sig_id) == "parsed":
                expected[sig_id] = min(parsed, key=lambda x, obs=obs: abs(x - obs))
            else:
                expected[sig_id] = text
        row = {"probe": probe, "observed": obs, "reported": reported[probe], "expected": expected}
        exchange = replies[probe].exchange_id
        if exchange is not None:
            row["exchange"] = exchange
        out.append(row)
    return out
