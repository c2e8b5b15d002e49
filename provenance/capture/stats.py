"""A capture session's counters and the lines it prints: per exchange, and at the end.

Everything here reads records that are already redacted; nothing quotes raw traffic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from provenance.records import ExchangeRecord


@dataclass(slots=True)
class CaptureStats:
    """Counters of one session; ``as_dict`` is the body of ``provenance.capture/1`` JSON."""

    exchanges: int = 0  # records built (completed, errored or cut off at shutdown)
    submitted: int = 0  # accepted by the writer's buffer
    dropped: int = (
        0  # not in the database at the end (refused, journaled, lost): exchanges - written
    )
    connection_errors: int = 0  # flows that ended in flow.error
    incomplete: int = 0  # still in flight at shutdown, stored with an error
    parse_errors: int = 0  # records with at least one parse error
    extract_failures: int = 0  # extraction raised: a bare row was stored instead
    hook_failures: int = 0  # exceptions caught in a hook (the flow passed unchanged)
    written: int | None = None  # rows committed: what the database holds (known after close)
    write_failures: int | None = None  # not stored and not journaled either: lost
    journaled: int = 0  # not stored, kept in the unstored journal for the next capture
    journal: list[str] = field(default_factory=list)  # the journal's files
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stored(self) -> int | None:
        """What the database holds of this session's exchanges (None before close)."""
        return self.written

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        data["stored"] = self.written
        return data


def describe(record: ExchangeRecord) -> str:
    """A one-line, already redacted summary of a stored exchange (for logs and the CLI).

    Host, path, ids and error come from traffic: they are shown literally, one line, with control
    and escape sequences as escapes (:func:`provenance.display.terminal.line`).
    """
    from provenance.display.terminal import line as safe_line

    ids: list[str] = []
    for obs in record.observations:
        if obs.model_id not in ids:
            ids.append(obs.model_id)
    status = "ERR" if record.error else (str(record.status) if record.status is not None else "---")
    line = f"{status} {record.method} {record.host}{record.path}"
    if ids:
        line += "  model: " + ", ".join(ids[:4])
    if record.error:
        line += f"  ({record.error})"
    return safe_line(line, limit=2000)


def summary_line(stats: CaptureStats, store: Any) -> str:
    """One line saying what a finished session stored, e.g. for stderr at shutdown."""
    stored = stats.written if stats.written is not None else stats.submitted
    parts = [f"provenance: {stored} exchange(s) stored in {getattr(store, 'url', store)}"]
    if stats.dropped:
        parts.append(f"{stats.dropped} NOT stored")
    if stats.journaled:
        where = ", ".join(stats.journal[:2]) + (" …" if len(stats.journal) > 2 else "")
        parts.append(
            f"{stats.journaled} of those kept in {where} (the next capture on this store "
            "imports them)"
        )
    if stats.write_failures:
        parts.append(f"{stats.write_failures} lost")
    if stats.connection_errors:
        parts.append(f"{stats.connection_errors} with connection errors")
    if stats.incomplete:
        parts.append(f"{stats.incomplete} cut off at shutdown")
    if stats.extract_failures:
        parts.append(f"{stats.extract_failures} kept as bare rows (extraction failed)")
    if stats.hook_failures:
        parts.append(f"{stats.hook_failures} hook failure(s)")
    return "; ".join(parts)
