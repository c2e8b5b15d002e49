"""The active tokenizer fingerprint: ≤ N requests, differential counts, open-set decision.

Request 1 sends the baseline text, requests 2…N the ranked probes (``fingerprints/probes``). The
server's count for probe ``p`` minus its count for the baseline is compared with every signature
(:mod:`.scoring`). Any failure of the endpoint (HTTP error, no usage, non-JSON, rate limit beyond
the retries) ends the run with ``verdict: null`` and the reason; nothing raises for those.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from provenance.fingerprint.tokenizer.client import BudgetSpent, CountClient, EndpointError
from provenance.fingerprint.tokenizer.scoring import CandidateScore, decide, expected_deltas, rank
from provenance.tokenizers.probes import ProbeSet
from provenance.tokenizers.signatures import Signature

RESULT_SCHEMA = "provenance.tokenizer-fingerprint/1"


def run_active(
    client: CountClient,
    probe_set: ProbeSet,
    signatures: list[Signature],
    *,
    max_requests: int = 4,
) -> dict[str, Any]:
    """Probe ``client``'s endpoint and return the ``--json`` document (see the module docstring)."""
    started = datetime.now(UTC)
    plan = list(probe_set.all())[: max(2, max_requests)]
    client.set_budget(max_requests)
    reported: dict[str, int] = {}
    failure: str | None = None
    truncated = False
    for probe in plan:
        try:
            reported[probe.id] = client.count(probe.text)
        except BudgetSpent as exc:
            truncated = True
            if len(reported) < 2:
                failure = str(exc)
            break
        except EndpointError as exc:
            failure = str(exc)
            break
    observed = {p.id: reported[p.id] - reported["baseline"] for p in plan[1:] if p.id in reported}
    doc: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "target": client.base_url,
        "model": client.model,
        "api": client.api,
        "method": client.method,
        "started_at": started.isoformat(),
        "probe_set": probe_set.id,
        "requests": client.requests_sent,
        "baseline_reported": reported.get("baseline"),
        "probes_answered": max(0, len(reported) - 1),
        "truncated": truncated,
    }
    ranking: list[CandidateScore] = []
    if failure is not None:
        decision = {
            "verdict": None,
            "reason": f"endpoint failed: {failure}",
            "families": [],
            "specials": None,
            "alternatives": [],
        }
    elif not observed:
        decision = {
            "verdict": None,
            "reason": "no probe was answered",
            "families": [],
            "specials": None,
            "alternatives": [],
        }
    elif any(v <= 0 for v in observed.values()):
        decision = {
            "verdict": None,
            "families": [],
            "specials": None,
            "alternatives": [],
            "reason": "reported prompt tokens do not grow with the message; the usage "
            "is not computed from the prompt",
        }
        ranking = rank(signatures, observed, probe_set.digest)
    else:
        ranking = rank(signatures, observed, probe_set.digest)
        decision = decide(ranking, signatures)
    doc.update(decision)
    doc["ranking"] = [c.as_dict() for c in ranking]
    doc["evidence"] = _evidence(observed, reported, ranking, signatures)
    return doc


def _evidence(
    observed: dict[str, int],
    reported: dict[str, int],
    ranking: list[CandidateScore],
    signatures: list[Signature],
) -> list[dict[str, Any]]:
    modes = {c.tokenizer: c.mode for c in ranking}
    usable = {
        s.id: s
        for s in signatures
        if any(c.tokenizer == s.id and c.status != "skipped" for c in ranking)
    }
    out = []
    for probe, obs in observed.items():
        expected: dict[str, int] = {}
        for sig_id, sig in usable.items():
            text, parsed = expected_deltas(sig, probe)
            if modes.get(sig_id) == "parsed":
                expected[sig_id] = min(parsed, key=lambda x, obs=obs: abs(x - obs))
            else:
                expected[sig_id] = text
        out.append(
            {"probe": probe, "observed": obs, "reported": reported[probe], "expected": expected}
        )
    return out
