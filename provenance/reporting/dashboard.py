"""The dashboard's queries: SQL aggregations returning plain rows; the pages only render them.

Every function takes an open store and returns JSON-ready lists/dicts, so the Streamlit layer can
cache them (``st.cache_data``) and tests can assert on them without a browser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from provenance.reporting.exchanges import ExchangeFilter, _filtered
from provenance.reporting.filters import AuditFilter, on_rollup
from provenance.store.models import (
    ExchangeRow,
    ModelDayRow,
    ProductRow,
    ProviderRow,
    TrafficDayRow,
)


def overview(store: Any, flt: AuditFilter | None = None) -> dict[str, Any]:
    """Headline numbers and every product's verdict (see ``Verdict.to_json``), restricted to
    ``flt`` (days, product, provider)."""
    from provenance.verdicts.collect import verdicts

    flt = flt or AuditFilter()
    t = TrafficDayRow
    stmt = select(func.sum(t.exchanges), func.min(t.first_seen), func.max(t.last_seen))
    stmt = on_rollup(stmt, t, flt)
    with store.session() as s:
        exchanges, first, last = s.execute(stmt).one()
        exchanges = int(exchanges or 0)
    products = [v.to_json() for v in verdicts(store, flt=flt)]
    return {
        "exchanges": exchanges,
        "first_seen": _iso(first),
        "last_seen": _iso(last),
        "products": products,
        "identified": sum(1 for p in products if p["status"] == "identified"),
        "conflicts": sum(1 for p in products if p["status"] == "conflict"),
    }


def model_timeline(store: Any, flt: AuditFilter | None = None) -> list[dict[str, Any]]:
    """Exchanges per (day, model id): the Models page's timeline chart (from the rollup),
    restricted to ``flt``."""
    m = ModelDayRow
    stmt = (
        select(m.day, m.model_id, func.sum(m.exchanges))
        .where(m.kind == "model")
        .group_by(m.day, m.model_id)
        .order_by(m.day, m.model_id)
    )
    stmt = on_rollup(stmt, m, flt)
    with store.session() as s:
        return [{"day": d, "model_id": mid, "exchanges": int(n)} for d, mid, n in s.execute(stmt)]


def day_bounds(store: Any) -> tuple[str | None, str | None]:
    """The first and last UTC day with traffic (``YYYY-MM-DD``), for the day-range filter."""
    t = TrafficDayRow
    with store.session() as s:
        first, last = s.execute(select(func.min(t.day), func.max(t.day))).one()
    return (str(first) if first else None, str(last) if last else None)


def filter_options(store: Any) -> dict[str, list[str]]:
    """Distinct products and providers, for the filters."""
    with store.session() as s:
        products = sorted(s.scalars(select(ProductRow.name)))
        providers = sorted(s.scalars(select(ProviderRow.slug)))
    return {"products": products, "providers": providers}


def timing_sample(store: Any, flt: ExchangeFilter, limit: int = 20_000) -> list[dict[str, Any]]:
    """Latency and time-to-first-byte of the newest ``limit`` matching exchanges."""
    stmt = (
        select(ExchangeRow.latency_ms, ExchangeRow.ttfb_ms, ExchangeRow.streamed)
        .outerjoin(ProductRow, ExchangeRow.product_id == ProductRow.id)
        .outerjoin(ProviderRow, ExchangeRow.provider_id == ProviderRow.id)
        .order_by(ExchangeRow.started_at.desc())
        .limit(limit)
    )
    stmt = _filtered(stmt, flt)
    with store.session() as s:
        return [
            {"latency_ms": lat, "ttfb_ms": ttfb, "streamed": bool(streamed)}
            for lat, ttfb, streamed in s.execute(stmt)
        ]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="seconds").replace("+00:00", "Z")
