"""Import recorded traffic files into a store: the one place the importers are driven from.

Each exchange and WebSocket session goes through the same funnel as live capture
(:class:`~provenance.ingest.Recorder`, the same redaction); records are written in batches of
:data:`~provenance.ingest.BATCH`, one transaction each (:class:`~provenance.ingest.RecordBatcher`).
A file that turns out to be malformed half-way keeps what was read before the fault (it is
flushed to the store first) and reports the fault on its :class:`ImportSummary`; the caller
decides the exit code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.errors import UsageError
from provenance.importers.detect import FileKind, open_input
from provenance.importers.flows import FlowFileError, flow_item, iter_flow_file
from provenance.importers.har import SkipEntry, date_in_order, har_item, iter_har_entries
from provenance.importers.jsonstream import JsonStreamError
from provenance.ingest import Job, RecordBatcher, Recorder, extract_options
from provenance.ingest.pool import record_all

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(slots=True)
class ImportSummary:
    """What happened to one file. ``error`` is set when the file was malformed part-way."""

    path: str
    kind: str
    read: int = 0  # entries/flows read from the file
    stored: int = 0  # exchange rows written
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    parse_errors: int = 0  # stored exchanges carrying at least one parse error
    extract_failures: int = 0  # exchanges extraction could not handle (stored as bare rows)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "read": self.read,
            "stored": self.stored,
            "skipped": dict(sorted(self.skipped.items())),
            "parse_errors": self.parse_errors,
            "extract_failures": self.extract_failures,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ImportOptions:
    keep_bodies: bool = True
    max_body: int = 1_000_000
    product: str | None = None
    keylog: Path | None = None
    workers: int | None = None  # recording processes; None: more cores, larger files only


POOL_MIN_BYTES = 8 * 1024 * 1024  # below this, starting processes costs more than it saves


def workers_for(options: ImportOptions, size: int) -> int:
    """How many recording processes an import of ``size`` bytes uses (0: this process)."""
    from provenance.ingest.pool import default_workers

    if options.workers is not None:
        return max(0, options.workers)
    return default_workers() if size >= POOL_MIN_BYTES else 0


def import_file(
    path: Path,
    *,
    store: Any,
    redactor: Any,
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
) -> ImportSummary:
    """Import one file; raises :class:`UsageError` only when it cannot be opened or recognised
    (nothing read yet). ``StoreError`` from the store propagates (earlier batches are kept)."""
    kind, reader, position = open_input(path)
    if kind is FileKind.PCAP:
        reader.close()
        return _import_pcap(
            path, store=store, redactor=redactor, options=options, progress=progress
        )
    summary = ImportSummary(path=str(path), kind=kind.value)
    recorder = Recorder(redactor, extract_options(options))
    batcher = RecordBatcher(store)
    total = path.stat().st_size
    try:
        jobs = _items(kind, reader, summary, options)
        for record in record_all(jobs, recorder, workers=workers_for(options, total)):
            batcher.add(record)
            if progress is not None:
                progress(position(), total)
    except (JsonStreamError, OSError, EOFError, ValueError, RecursionError, MemoryError) as exc:
        summary.error = _reason(exc)
    except Exception as exc:  # FlowReadException and friends, or the store refusing
        if _store_refused(exc):
            summary.error = _store_reason(exc, store)
        elif type(exc).__name__ == "FlowReadException":
            summary.error = f"not a readable mitmproxy flow file ({exc})"
        else:
            raise
    finally:
        try:
            batcher.flush()
        except Exception as exc:
            if not _store_refused(exc):
                raise
            summary.error = summary.error or _store_reason(exc, store)
        finally:
            summary.stored = batcher.stored
            if batcher.rejected:
                summary.skipped["rejected by the store"] += batcher.rejected
            summary.parse_errors = recorder.stats.parse_errors
            summary.extract_failures = recorder.stats.failures
            reader.close()
    if progress is not None:
        progress(total, total)
    return summary


def _store_refused(exc: BaseException) -> bool:
    """A failure of the database itself (full disk, read-only, gone, locked), not of a record."""
    from sqlalchemy.exc import SQLAlchemyError

    from provenance.store.writer import is_transient

    return isinstance(exc, SQLAlchemyError) and is_transient(exc)


def _store_reason(exc: BaseException, store: Any) -> str:
    from provenance.store.engine import describe_error, disk_full_hint

    url = getattr(store, "url", "")
    return f"the store refused the write ({describe_error(exc)}){disk_full_hint(url)}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, JsonStreamError):
        return f"malformed HAR: {exc}"
    if isinstance(exc, EOFError):
        return "the compressed file is truncated"
    if isinstance(exc, OSError):
        return f"read error: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, FlowFileError):
        return f"malformed flow file: {exc}"
    if isinstance(exc, RecursionError):
        return "malformed file: nested too deeply"
    return f"malformed file: {type(exc).__name__}"


def _items(
    kind: FileKind, reader: Any, summary: ImportSummary, options: ImportOptions
) -> Iterator[Job]:
    if kind is FileKind.HAR:
        yield from date_in_order(_converted(iter_har_entries(reader), har_item, summary, options))
    else:
        yield from _converted(iter_flow_file(reader), flow_item, summary, options)


def _converted(
    entries: Iterator[Any], convert: Any, summary: ImportSummary, options: ImportOptions
) -> Iterator[Job]:
    for entry in entries:
        summary.read += 1
        try:
            yield convert(entry, product=options.product)
        except SkipEntry as skip:
            summary.skipped[str(skip)] += 1


def _import_pcap(
    path: Path, *, store: Any, redactor: Any, options: ImportOptions, progress: Progress | None
) -> ImportSummary:
    """pcap/pcapng (with ``--keylog``): handed to :mod:`provenance.pcap.importer`."""
    try:
        from provenance.pcap.importer import import_capture
    except ImportError:
        raise UsageError(f"{path}: pcap import is not available in this installation") from None
    result = import_capture(
        path,
        keylog=options.keylog,
        store=store,
        redactor=redactor,
        progress=progress is not None,
        options=extract_options(options),
    )
    skipped = Counter(getattr(result, "skipped", None) or {})
    stored = int(getattr(result, "exchanges", 0) or 0)
    return ImportSummary(
        path=str(path),
        kind="pcap",
        read=stored + sum(skipped.values()),
        stored=stored,
        skipped=skipped,
    )
