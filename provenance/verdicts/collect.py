"""Gather each product's evidence from the store's daily rollups (no per-exchange work).

The queries group the rollups by (product, model id) and by (product, day, model id); only the
distinct model ids — a few hundred even over millions of exchanges — are resolved through the
catalog in Python.
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

from sqlalchemy import func, select

from provenance.reporting.filters import AuditFilter
from provenance.store.models import (
    FingerprintRunRow,
    ModelDayRow,
    ProductRow,
    ProviderRow,
    TrafficDayRow,
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


def resolve_family(model_id: str) -> str | None:
    """The catalog family of ``model_id`` (cached), None when no pattern knows it."""
    return _resolve(model_id)[0]


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


def collect_evidence(
    store: Any, product: str | None = None, flt: AuditFilter | None = None
) -> dict[str, ProductEvidence]:
    """Every product's evidence, keyed by product name (``product`` narrows it to one).

    ``flt`` restricts the evidence to its UTC days (rollup days and fingerprint runs' start),
    its provider (traffic and ids; fingerprint runs are not tied to a provider and stay) and its
    product. Read from the daily rollups (``traffic_days``, ``model_days``), so the cost grows
    with the number of (product, model id, day) combinations, not with the number of exchanges.
    """
    flt = flt or AuditFilter()
    product = product if product is not None else flt.product
    out: dict[str, ProductEvidence] = {}

    def evidence_for(key: str) -> ProductEvidence:
        if key not in out:
            out[key] = ProductEvidence(product=key)
        return out[key]

    t, m = TrafficDayRow, ModelDayRow
    with store.session() as s:
        names = {0: UNATTRIBUTED, **dict(s.execute(select(ProductRow.id, ProductRow.name)).all())}
        slugs = dict(s.execute(select(ProviderRow.id, ProviderRow.slug)).all())
        wanted = None
        if product is not None:
            wanted = [i for i, n in names.items() if n == product]

        provider_ids = None
        if flt.provider is not None:
            provider_ids = [i for i, slug in slugs.items() if slug == flt.provider] or [-1]

        def only(stmt: Any, column: Any) -> Any:
            table = column.table
            if wanted is not None:
                stmt = stmt.where(column.in_(wanted))
            if flt.since_day is not None:
                stmt = stmt.where(table.c.day >= flt.since_day)
            if flt.until_day is not None:
                stmt = stmt.where(table.c.day <= flt.until_day)
            if provider_ids is not None:
                stmt = stmt.where(table.c.provider_id.in_(provider_ids))
            return stmt

        traffic = only(
            select(
                t.product_id,
                t.provider_id,
                func.sum(t.exchanges),
                func.min(t.first_seen),
                func.max(t.last_seen),
            ).group_by(t.product_id, t.provider_id),
            t.product_id,
        )
        for prod_id, prov_id, count, first, last in s.execute(traffic):
            ev = evidence_for(names.get(prod_id, UNATTRIBUTED))
            ev.exchanges += int(count)
            first, last = _aware(first), _aware(last)
            ev.first_seen = first if ev.first_seen is None else min(ev.first_seen, first)
            ev.last_seen = last if ev.last_seen is None else max(ev.last_seen, last)
            if prov_id and prov_id in slugs:
                slug = slugs[prov_id]
                ev.providers.append(ProviderEvidence(slug, int(count), _exclusive_vendor(slug)))

        ids = only(
            select(
                m.product_id,
                m.model_id,
                func.sum(m.exchanges),
                func.sum(m.served),
                func.min(m.first_seen),
                func.max(m.last_seen),
            )
            .where(m.kind == "model")
            .group_by(m.product_id, m.model_id),
            m.product_id,
        )
        for prod_id, model_id, n, served, first, last in s.execute(ids):
            family, vendor = _resolve(model_id)
            n, served = int(n), int(served or 0)
            evidence_for(names.get(prod_id, UNATTRIBUTED)).ids.append(
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

        daily = only(
            select(m.product_id, m.day, m.model_id, func.sum(m.exchanges))
            .where(m.kind == "model")
            .group_by(m.product_id, m.day, m.model_id),
            m.product_id,
        )
        merged: dict[tuple[str, datetime, str], int] = defaultdict(int)
        for prod_id, day, model_id, n in s.execute(daily):
            family, _ = _resolve(model_id)
            if family is not None:
                merged[(names.get(prod_id, UNATTRIBUTED), _as_day(day), family)] += int(n)
        for (prod, day, family), n in sorted(merged.items()):
            evidence_for(prod).daily_families.append((day, family, n))

        for run in s.scalars(select(FingerprintRunRow).order_by(FingerprintRunRow.started_at)):
            key = run.product or endpoint_name(run.target)
            if (product is not None and key != product) or not flt.includes(run.started_at):
                continue
            evidence_for(key).fingerprints.append(_run_evidence(run))
    return out


def endpoint_name(target: str) -> str:
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


def verdicts(
    store: Any, product: str | None = None, flt: AuditFilter | None = None
) -> list[Verdict]:
    """The verdict of every product (or one), strongest evidence first, then by name; ``flt``
    restricts the evidence (see :func:`collect_evidence`)."""
    evidence = collect_evidence(store, product, flt)
    vendors = vendor_map(evidence)
    result = [fuse(ev, vendors) for ev in evidence.values()]
    order = {"identified": 0, "conflict": 1, "unknown": 2, "no-evidence": 3}
    result.sort(key=lambda v: (order.get(v.status, 9), -v.exchanges, v.product))
    return result
