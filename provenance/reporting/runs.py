"""Fingerprint runs as stored, for reports and the dashboard's Fingerprints page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from provenance.store.models import FingerprintRunRow


def list_runs(store: Any, limit: int | None = 200) -> list[dict[str, Any]]:
    """The newest runs first: kind, target, model, verdict and the ranking of candidates."""
    stmt = select(FingerprintRunRow).order_by(FingerprintRunRow.started_at.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    out = []
    with store.session() as s:
        for run in s.scalars(stmt):
            result = run.result or {}
            out.append(
                {
                    "id": run.id,
                    "kind": run.kind,
                    "started_at": run.started_at.isoformat().replace("+00:00", "Z"),
                    "target": run.target,
                    "model": run.model,
                    "product": run.product,
                    "verdict": result.get("verdict", run.verdict),
                    "family": run.family,
                    "method": run.method,
                    "requests": run.requests,
                    "reason": result.get("reason"),
                    "ranking": result.get("ranking", []),
                }
            )
    return out
