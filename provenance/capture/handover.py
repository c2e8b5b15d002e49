"""From a hook's job to a stored row: the extraction process when there is one, else here.

:class:`Handover` is what the capture hooks hand every finished exchange to. With an
:class:`~provenance.capture.worker.ExtractWorker` the job is pickled into its pipe and the hook
returns; without one (``--extract-in-proxy``, an in-memory store, or after the worker died) the
job is extracted by the session's :class:`~provenance.ingest.Recorder` and written by a
:class:`~provenance.store.BatchWriter` thread. Neither way blocks: a full buffer drops the
exchange and counts it (``dropped``), so a stalled store never stalls the proxy. A worker that
dies is replaced by the in-process path, which takes back the jobs it left unread.

All counting of a session's exchanges happens here, into the session's
:class:`~provenance.capture.stats.CaptureStats`. After :meth:`Handover.close` every exchange is
counted exactly once: ``written`` (committed: what the database holds), ``journaled`` (kept in
the store's unstored journal, imported by the next capture) or lost; ``dropped`` is every
exchange the database does not hold (journaled ones included), so ``written + dropped ==
exchanges`` always, whatever failed and wherever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from provenance.capture.stats import CaptureStats, describe
from provenance.ingest import Job, Recorder
from provenance.records import ExchangeRecord

logger = logging.getLogger("provenance.capture")


class Handover:
    """Gets a session's jobs stored; :meth:`close` flushes and settles the counters."""

    def __init__(
        self,
        *,
        store: Any,
        recorder: Recorder,
        stats: CaptureStats,
        worker: Any = None,
        on_record: Callable[[ExchangeRecord], None] | None = None,
    ) -> None:
        self.store = store
        self.recorder = recorder
        self.stats = stats
        self.worker = worker  # an ExtractWorker, or None: extract in this process
        self.writer: Any = None  # this process's BatchWriter, started when first needed
        self.on_record = on_record
        self._worker_written = 0  # rows the worker process(es) committed
        self._worker_lost = 0  # records a worker gave up (failed or still pending at its end)
        self._worker_journaled = 0  # records a worker kept in the unstored journal
        self._journal: list[str] = []
        self._worker_failures = 0  # extractions that raised in a worker
        self._worker_reported = False

    def submit(self, job: Job) -> None:
        """Store ``job`` eventually; never blocks, never raises for the job's content."""
        if not self._to_worker(job):
            self._run_here(job)

    def close(self, timeout: float | None = 30.0) -> None:
        """Let the worker write what it was handed, flush this process's writer, settle the
        counters (see the module docstring). Never raises."""
        self._close_worker(timeout)
        wstats = None
        if self.writer is not None:
            try:
                wstats = self.writer.close(timeout)
                self._journal += [str(p) for p in self.writer.journal_paths]
            except Exception as exc:
                logger.warning(
                    "provenance: closing the store writer failed (%s)", type(exc).__name__
                )
        written, failed = self._worker_written, self._worker_lost
        journaled = self._worker_journaled
        if wstats is not None:
            written += wstats.written
            failed += wstats.failed_records + wstats.pending
            journaled += wstats.journaled
        stats = self.stats
        stats.written, stats.journaled = written, journaled
        stats.dropped = max(0, stats.exchanges - written)
        stats.write_failures = max(failed, stats.exchanges - written - journaled)
        stats.journal = list(dict.fromkeys(self._journal))
        stats.extract_failures = self.recorder.stats.failures + self._worker_failures

    # -- the extraction process ----------------------------------------------------------------
    def _to_worker(self, job: Job) -> bool:
        """Give ``job`` to the worker; False when there is none (the caller runs it here).

        A full worker queue drops the exchange (counted), as a full writer buffer does.
        """
        worker = self.worker
        if worker is None:
            return False
        if not worker.alive:
            self._fall_back()
            return False
        try:
            handed = worker.submit(job)
        except Exception:  # a job that does not pickle: extract it here instead
            return False
        self.stats.exchanges += 1
        if handed:
            self.stats.submitted += 1
        else:
            self._note_drop()
        return True

    def _fall_back(self) -> None:
        """The worker ended early: extract here from now on, starting with its queue."""
        worker, self.worker = self.worker, None
        if worker is None:
            return
        logger.warning("provenance: extracting in the proxy process from now on")
        self._merge_report(worker, worker.close(timeout=5.0))
        jobs = worker.take_back()
        worker.release()
        for job in jobs:
            self._run_here(job, counted=True)

    def _close_worker(self, timeout: float | None) -> None:
        """Let the worker write everything handed to it; if it died, write its queue here."""
        worker = self.worker
        if worker is None:
            return
        try:
            report = worker.close(timeout)
        except Exception as exc:
            logger.warning(
                "provenance: closing the extraction process failed (%s)", type(exc).__name__
            )
            report = None
        if report is None or report.error:
            for job in worker.take_back():
                self._run_here(job, counted=True)
        worker.release()
        self._merge_report(worker, report)
        self.worker = None

    def _merge_report(self, worker: Any, report: Any) -> None:
        """Count what ``worker`` stored (its commits as they came, whether or not it reported
        at the end) and, from its ``report``, what it journaled or lost."""
        self._worker_written += getattr(worker, "written", 0)
        if report is None:
            return
        self.stats.parse_errors += report.parse_errors
        self._worker_lost += report.failed_records + report.pending
        self._worker_journaled += report.journaled
        self._journal += report.journal
        self._worker_failures += report.extract_failures

    def seen(self, record: ExchangeRecord) -> None:
        """A record the worker stored (bodies removed): the live log line and ``on_record``."""
        logger.info("provenance: %s", describe(record))
        if self.on_record is not None:
            self.on_record(record)

    # -- this process --------------------------------------------------------------------------
    def _run_here(self, job: Job, *, counted: bool = False) -> None:
        """Extract and write one job in this process (``counted``: a job taken back from a
        worker, already counted when it was handed over)."""
        self.write(self.recorder.record(job), counted=counted)

    def write(self, record: ExchangeRecord, *, counted: bool = False) -> None:
        """Hand a record to this process's writer (started on first use)."""
        if not counted:
            self.stats.exchanges += 1
        if record.parse_errors:
            self.stats.parse_errors += 1
        if self.writer is None:
            from provenance.store import BatchWriter
            from provenance.store.journal import Journal

            self.writer = BatchWriter(self.store, journal=Journal(self.store.url))
        if self.writer.submit(record):
            if not counted:
                self.stats.submitted += 1
        else:
            if counted:
                self.stats.submitted -= 1
            self._note_drop()
        logger.info("provenance: %s", describe(record))
        if self.on_record is not None:
            self.on_record(record)

    def _note_drop(self) -> None:
        self.stats.dropped += 1
        if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
            logger.warning(
                "provenance: the store is not keeping up; %d exchange(s) dropped so far",
                self.stats.dropped,
            )
