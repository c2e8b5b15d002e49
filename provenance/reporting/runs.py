"""Fingerprint runs as stored, for reports and the dashboard's Fingerprints and Product pages.

A run made through a probe channel (issue 26) says which: ``channel`` is ``kind`` (``api``,
``replay`` or ``guided``), ``template_exchange`` (the stored exchange a replay re-sent) and
``exchanges`` (the exchanges a replay sent and stored, or those a guided run matched), read from
the run's document; a run of an older version, which has no channel in its document, probed an
API. Runs that read captured traffic (passive, stream boundaries) have no channel (``None``).
The text helpers return plain text; every renderer escapes it as it escapes captured data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from provenance.store.models import FingerprintRunRow

PROBING_KINDS = ("tokenizer", "logits")  # kinds that send requests (the others read the store)
STREAM_BOUNDARIES = "stream-boundaries"


def list_runs(store: Any, limit: int | None = 200) -> list[dict[str, Any]]:
    """The newest runs first: kind, target, model, verdict, the ranking of candidates, the
    product the run counts for (``counts_for``: its product, else ``endpoint:<host>``), and
    its ``channel`` (see the module docstring), ``usage_reported``, ``partial`` and
    ``failure``."""
    from provenance.verdicts.collect import endpoint_name

    stmt = select(FingerprintRunRow).order_by(FingerprintRunRow.started_at.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    out = []
    with store.session() as s:
        for run in s.scalars(stmt):
            result = run.result or {}
            usage = result.get("usage_reported")
            failure = result.get("failure")
            out.append(
                {
                    "id": run.id,
                    "kind": run.kind,
                    "started_at": run.started_at.isoformat().replace("+00:00", "Z"),
                    "target": run.target,
                    "model": run.model,
                    "product": run.product,
                    "counts_for": run.product or endpoint_name(run.target),
                    "verdict": result.get("verdict", run.verdict),
                    "family": run.family,
                    "method": run.method,
                    "requests": run.requests,
                    "reason": result.get("reason"),
                    "ranking": result.get("ranking", []),
                    "channel": channel_of(run.kind, result, run.target),
                    "usage_reported": usage if isinstance(usage, bool) else None,
                    "decided_from": result.get("method")
                    if isinstance(result.get("method"), str)
                    else None,
                    "partial": result.get("partial") is True,
                    "failure": failure if isinstance(failure, str) and failure else None,
                }
            )
    return out


def channel_of(
    kind: str, result: dict[str, Any], target: str | None = None
) -> dict[str, Any] | None:
    """The channel of a run whose document is ``result``: ``kind``, ``target``,
    ``template_exchange`` (an int, replay only), ``exchanges`` (ints, in the order sent), and
    ``run`` (a guided run's marker number), ``prompt_at``, ``format`` and ``history_trimmed``
    where the document has them; None for a run that sent no requests."""
    stored = result.get("channel")
    if not isinstance(stored, dict):
        if kind not in PROBING_KINDS:
            return None
        stored = {"kind": "api"}
    exchanges = _ids(stored.get("exchanges"))
    if not exchanges:  # the probes' evidence names its exchange too
        evidence = result.get("evidence")
        rows = evidence if isinstance(evidence, list) else []
        exchanges = _ids([r.get("exchange") for r in rows if isinstance(r, dict)])
    template = stored.get("template_exchange")
    out: dict[str, Any] = {
        "kind": str(stored.get("kind") or "api"),
        "target": stored.get("target") or target,
        "template_exchange": template if _is_id(template) else None,
        "exchanges": exchanges,
    }
    for key in ("run", "prompt_at", "format", "history_trimmed"):
        if stored.get(key) not in (None, ""):
            out[key] = stored[key]
    return out


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _ids(values: Any) -> list[int]:
    if not isinstance(values, list):
        return []
    seen: list[int] = []
    for value in values:
        if _is_id(value) and value not in seen:
            seen.append(value)
    return seen


def channel_text(channel: dict[str, Any] | None) -> str:
    """One line saying how a run reached the model, exchange ids included (plain text)."""
    if channel is None:
        return "captured traffic"
    kind = channel["kind"]
    ids = ", ".join(str(i) for i in channel["exchanges"])
    if kind == "replay":
        text = "replay"
        if channel["template_exchange"] is not None:
            text += f" of exchange {channel['template_exchange']}"
        return text + (f"; probes sent as exchanges {ids}" if ids else "; no probe exchange stored")
    if kind == "guided":
        text = "guided" + (f" (run {channel['run']})" if channel.get("run") is not None else "")
        return text + (f"; probes matched in exchanges {ids}" if ids else "; no probe matched")
    return f"{kind}; exchanges {ids}" if ids else kind


def usage_text(run: dict[str, Any]) -> str | None:
    """``usage reported: no — decided from stream boundaries`` (or ``usage reported: no`` when
    the streams did not decide it either) for a run whose replies carried no usage; None when
    they did, or when the run's document does not say."""
    if run.get("usage_reported") is not False:
        return None
    if run.get("decided_from") == STREAM_BOUNDARIES:
        return "usage reported: no — decided from stream boundaries"
    return "usage reported: no"


def partial_text(run: dict[str, Any]) -> str | None:
    """``partial: <the failure>`` for a run that ended early with answers kept, ``failed:
    <the failure>`` for one that got none, else None."""
    failure = run.get("failure")
    if run.get("partial"):
        return f"partial: {failure}" if failure else "partial"
    return f"failed: {failure}" if failure else None


def notes_text(run: dict[str, Any]) -> str:
    """The run's notes in one line: usage, a partial run (empty when there is nothing to say)."""
    return "; ".join(n for n in (usage_text(run), partial_text(run)) if n)
