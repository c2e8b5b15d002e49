"""Gather each product's evidence from the store with SQL aggregations (no per-row Python).

The queries group by (product, model id) and by (product, day, model id); only the distinct model
ids — a few hundred even over millions of exchanges — are resolved through the catalog in Python.
Fingerprint runs are attached to a product by their ``product`` field, else to the pseudo-product
named after the probed endpoint's host (``endpoint:<host>``), so a run against a bare URL still
shows up in the audit.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Date, case, cast, func, select

from provenance.store.models import (
    ExchangeRow,
    FingerprintRunRow,
    ObservationRow,
    ProductRow,
    ProviderRow,
)
from provenance.verdicts.evidence import (
    FingerprintEvidence,
    IdEvidence,
    Kind,
    ProductEvidence,
    ProviderEvidence,
)
from provenance.verdicts.fuse import Verdict, fuse

UNATTRIBUTED = "(unattributed)"  # exchanges whose product could not be told


@lru_cache(maxsize=4096)
def _resolve(model_id: str) -> tuple[str | None, str | None]:
    from provenance.catalog import resolve

    res = resolve(model_id)
    return res.family, res.vendor


def _day(dialect: str, column: Any) -> Any:
    if dialect == "sqlite":
        return func.date(column)
    return cast(column, Date)


def _as_day(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):  # a date
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def collect_evidence(store: Any, product: str | None = None) -> dict[str, ProductEvidence]:
    """Every product's evidence, keyed by product name (``product`` narrows it to one)."""
    dialect = store.engine.dialect.name
    name = func.coalesce(ProductRow.name, UNATTRIBUTED).label("product")
    out: dict[str, ProductEvidence] = {}

    def evidence_for(key: str) -> ProductEvidence:
        if key not in out:
            out[key] = ProductEvidence(product=key)
        return out[key]

    with store.session() as s:
        base = select(name).select_from(ExchangeRow).outerjoin(
            ProductRow, ExchangeRow.product_id == ProductRow.id
        )
        if product is not None:
            base = base.where(name == product)

        totals = base.add_columns(
            func.count(ExchangeRow.id),
            func.min(ExchangeRow.started_at),
            func.max(ExchangeRow.started_at),
        ).group_by(name)
        for prod, count, first, last in s.execute(totals):
            ev = evidence_for(prod)
            ev.exchanges, ev.first_seen, ev.last_seen = count, _aware(first), _aware(last)

        is_resp = func.max(case((ObservationRow.role == "response", 1), else_=0))
        per_exchange = (
            select(
                name,
                ObservationRow.model_id,
                ObservationRow.exchange_id,
                is_resp.label("served"),
                func.min(ExchangeRow.started_at).label("at"),
            )
            .select_from(ObservationRow)
            .join(ExchangeRow, ObservationRow.exchange_id == ExchangeRow.id)
            .outerjoin(ProductRow, ExchangeRow.product_id == ProductRow.id)
            .where(ObservationRow.kind == "model")
            .group_by(name, ObservationRow.model_id, ObservationRow.exchange_id)
        )
        if product is not None:
            per_exchange = per_exchange.where(name == product)
        sub = per_exchange.subquery()
        ids = select(
            sub.c.product,
            sub.c.model_id,
            func.count(sub.c.exchange_id),
            func.sum(sub.c.served),
            func.min(sub.c.at),
            func.max(sub.c.at),
        ).group_by(sub.c.product, sub.c.model_id)
        for prod, model_id, n, served, first, last in s.execute(ids):
            family, vendor = _resolve(model_id)
            served = int(served or 0)
            evidence_for(prod).ids.append(
                IdEvidence(
                    model_id=model_id,
                    family=family,
                    vendor=vendor,
                    exchanges=n,
                    responses=served,
                    requests=n - served,
                    first_seen=_aware(first),
                    last_seen=_aware(last),
                )
            )

        day = _day(dialect, sub.c.at).label("day")
        daily = select(sub.c.product, day, sub.c.model_id, func.count(sub.c.exchange_id)).group_by(
            sub.c.product, day, sub.c.model_id
        )
        merged: dict[tuple[str, datetime, str], int] = defaultdict(int)
        for prod, d, model_id, n in s.execute(daily):
            family, _ = _resolve(model_id)
            if family is not None:
                merged[(prod, _as_day(d), family)] += n
        for (prod, d, family), n in sorted(merged.items()):
            evidence_for(prod).daily_families.append((d, family, n))

        providers = (
            base.add_columns(ProviderRow.slug, func.count(ExchangeRow.id))
            .join(ProviderRow, ExchangeRow.provider_id == ProviderRow.id)
            .group_by(name, ProviderRow.slug)
        )
        for prod, slug, n in s.execute(providers):
            evidence_for(prod).providers.append(ProviderEvidence(slug, n, _exclusive_vendor(slug)))

        for run in s.scalars(select(FingerprintRunRow).order_by(FingerprintRunRow.started_at)):
            key = run.product or _endpoint_name(run.target)
            if product is not None and key != product:
                continue
            evidence_for(key).fingerprints.append(_run_evidence(run))
    return out


def _endpoint_name(target: str) -> str:
    host = urlsplit(target).hostname or target
    return f"endpoint:{host}"


def _exclusive_vendor(provider: str) -> str | None:
    try:
        from provenance.catalog import provider_vendor
    except ImportError:
        return None
    return provider_vendor(provider)


def _run_evidence(run: FingerprintRunRow) -> FingerprintEvidence:
    result = run.result or {}
    kind = Kind(run.kind)
    verdict = result.get("verdict", run.verdict)
    families: tuple[str, ...]
    if kind == Kind.LOGITS:
        family = run.family
        if family is None and verdict:
            family = _resolve(str(verdict))[0]
        families = (family,) if family and verdict else ()
    else:
        families = tuple(result.get("families") or ([run.family] if run.family else []))
        if verdict is None:
            families = ()
    detail = f"run {run.id}, {run.requests} requests"
    at = _aware(run.started_at) or datetime.now(UTC)
    return FingerprintEvidence(kind, run.id, verdict, families, at, run.model, detail)


def vendor_map(evidence: dict[str, ProductEvidence]) -> dict[str, str]:
    """family → vendor for every family that appears in ``evidence`` (from resolved ids)."""
    vendors: dict[str, str] = {}
    for ev in evidence.values():
        for item in ev.ids:
            if item.family and item.vendor:
                vendors[item.family] = item.vendor
    try:
        from provenance.catalog import family_vendors
    except ImportError:
        return vendors
    return {**family_vendors(), **vendors}


def verdicts(store: Any, product: str | None = None) -> list[Verdict]:
    """The verdict of every product (or one), strongest evidence first, then by name."""
    evidence = collect_evidence(store, product)
    vendors = vendor_map(evidence)
    result = [fuse(ev, vendors) for ev in evidence.values()]
    order = {"identified": 0, "conflict": 1, "unknown": 2, "no-evidence": 3}
    result.sort(key=lambda v: (order.get(v.status, 9), -v.exchanges, v.product))
    return result
