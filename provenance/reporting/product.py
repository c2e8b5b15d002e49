"""The Product page's query: one product's verdict, its evidence with links, and its timeline.

Read from the daily rollups (``model_days``) and the fingerprint runs; the only per-exchange
lookup is one indexed probe per distinct model id for the first exchange that carries it (the
link from an id to the evidence behind it), so the cost grows with the product's distinct ids,
not with its exchanges.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from provenance.reporting.filters import AuditFilter, on_rollup
from provenance.store.models import (
    ExchangeRow,
    ModelDayRow,
    ObservationRow,
    ProductRow,
)

UNRECOGNISED = "unrecognised"  # the timeline's name for ids no catalog pattern knows


def product_view(store: Any, product: str, flt: AuditFilter | None = None) -> dict[str, Any] | None:
    """``verdict`` (``Verdict.to_json``), ``ids`` (the ``models`` rows of the product, each with
    ``example``: the id of the first exchange carrying it), ``daily`` (exchanges per day and
    family) and ``runs`` (its fingerprint runs, newest first); None for an unknown product.
    ``flt`` restricts all of it to its days and provider."""
    from provenance.reporting.runs import list_runs
    from provenance.store.queries import models_table
    from provenance.verdicts.collect import UNATTRIBUTED, verdicts

    flt = flt or AuditFilter()
    found = verdicts(store, product, flt)
    if not found:
        return None
    verdict = found[0].to_json()
    ids = []
    if product != UNATTRIBUTED:
        ids = models_table(
            store,
            product=product,
            since_day=flt.since_day,
            until_day=flt.until_day,
            provider=flt.provider,
        )
    with store.session() as session:
        product_id = session.scalar(select(ProductRow.id).where(ProductRow.name == product))
        for row in ids:
            row["example"] = _first_exchange(session, product_id, row["model_id"])
    runs = [
        r
        for r in list_runs(store, limit=None)
        if r["counts_for"] == product and flt.includes(_parse(r["started_at"]))
    ]
    rollup_id = product_id if product_id is not None else (0 if product == UNATTRIBUTED else None)
    return {
        "verdict": verdict,
        "ids": ids,
        "daily": family_days(store, rollup_id, flt) if rollup_id is not None else [],
        "runs": runs,
    }


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _first_exchange(session: Any, product_id: int | None, model_id: str) -> int | None:
    """The lowest exchange id of the product whose observations carry ``model_id``."""
    o, e = ObservationRow, ExchangeRow
    stmt = (
        select(o.exchange_id)
        .join(e, e.id == o.exchange_id)
        .where(o.model_id == model_id)
        .where(e.product_id == product_id if product_id is not None else e.product_id.is_(None))
        .order_by(o.exchange_id)
        .limit(1)
    )
    return session.scalar(stmt)


def family_days(
    store: Any, product_id: int, flt: AuditFilter | None = None
) -> list[dict[str, Any]]:
    """Exchanges per (UTC day, family) of one product (rollup id: 0 for unattributed traffic),
    days in order (the timeline chart); ``flt`` narrows the days and the provider."""
    from provenance.verdicts.collect import resolve_family

    m = ModelDayRow
    stmt = (
        select(m.day, m.model_id, func.sum(m.exchanges))
        .where(m.product_id == product_id, m.kind == "model")
        .group_by(m.day, m.model_id)
    )
    stmt = on_rollup(stmt, m, flt, product=False)  # the product is this one, by id
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    with store.session() as session:
        for day, model_id, count in session.execute(stmt):
            family = resolve_family(model_id) or UNRECOGNISED
            per_day[(str(day), family)] += int(count or 0)
    return [
        {"day": day, "family": family, "exchanges": n}
        for (day, family), n in sorted(per_day.items())
    ]
