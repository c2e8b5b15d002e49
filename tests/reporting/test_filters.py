"""AuditFilter: read from URL parameters (garbage dropped), and applied to the verdicts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from provenance.reporting.filters import AuditFilter
from provenance.store import open_store
from provenance.verdicts.collect import verdicts
from tests.reporting.seed import seed


def test_params_round_trip_and_garbage_is_dropped() -> None:
    flt = AuditFilter(date(2026, 3, 2), date(2026, 3, 4), "cursor", "fireworks")
    assert AuditFilter.from_params(flt.to_params()) == flt
    assert AuditFilter.from_params({}) == AuditFilter() and AuditFilter().empty
    odd = AuditFilter.from_params(
        {"since": "soon", "until": ["2026-03-01"], "product": "", "provider": "x" * 600}
    )
    assert odd == AuditFilter(until=date(2026, 3, 1))
    swapped = AuditFilter.from_params({"since": "2026-03-09", "until": "2026-03-01"})
    assert (swapped.since, swapped.until) == (date(2026, 3, 1), date(2026, 3, 9))
    assert "product cursor" in flt.describe() and AuditFilter().describe().startswith("everything")


def test_includes_whole_utc_days() -> None:
    flt = AuditFilter(since=date(2026, 3, 2), until=date(2026, 3, 2))
    assert flt.includes(datetime(2026, 3, 2, 23, 59, tzinfo=UTC))
    assert not flt.includes(datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
    assert flt.includes(None)


def test_the_day_range_decides_which_switch_counts(sqlite_url: str) -> None:
    seed(sqlite_url)  # composer: qwen3 until 2026-03-03, kimi-k2.5 from 2026-03-04
    with open_store(sqlite_url) as store:
        before = verdicts(store, "composer", AuditFilter(until=date(2026, 3, 3)))[0]
        after = verdicts(store, "composer", AuditFilter(since=date(2026, 3, 4)))[0]
        other = verdicts(store, flt=AuditFilter(provider="no-such-provider"))
    assert (before.family, before.exchanges) == ("qwen3", 3)
    assert (after.family, after.switches) == ("kimi-k2.5", [])
    assert all(v.exchanges == 0 for v in other)
