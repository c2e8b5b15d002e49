"""Extraction, redaction and store writes in a child process, off mitmproxy's event loop.

mitmproxy runs an addon's ``response`` hook before it forwards a buffered response, and every flow
of the proxy shares one event loop: whatever the hook costs is added to that request's latency and
queues every other flow behind it. :class:`ExtractWorker` moves that cost to a second process. The
hook only snapshots the exchange into a :class:`~provenance.ingest.Job` (the raw exchange plus the
finished taps of streamed bodies or of a WebSocket session) and hands it over; the worker runs it
through its own :class:`~provenance.ingest.Recorder` and writes through its own
:class:`~provenance.store.BatchWriter`.

Contract (the same as the in-loop path, which stays the fallback):

- :meth:`ExtractWorker.submit` never blocks and never raises. It pickles the job and writes it
  into the pipe from the calling thread (:mod:`.framepipe`); what the pipe cannot take yet waits
  in a backlog of at most ``max_bytes``. It returns False when that is full, and the caller
  counts a drop; the bytes of the traffic are never touched.
- Unredacted data crosses only the pipe to our own child; what the child stores, logs or sends
  back is redacted (it sends back each record without its bodies, for the live log line).
- The child ignores SIGINT and SIGTERM: a Ctrl-C or a signal to the process group stops the proxy,
  and the proxy's shutdown (:meth:`close`) hands over the last jobs and waits for the child to
  write them, up to a deadline it hands over with the end marker. What the store has not taken
  by then (a full disk, a read-only file, a server gone) the child puts in the store's unstored
  journal (:mod:`provenance.store.journal`) and reports, well before the proxy stops waiting.
  If the proxy itself dies (``kill -9``), the child's read ends with EOF (it holds no write end
  of the job pipe); it writes what it has already received and exits.
- The child reports every commit as it happens (``written``), so the proxy knows what the
  database holds even if the child is killed before its final report.
- If the child dies or cannot open the store, :attr:`alive` turns False; the session then takes
  back the jobs still unread (:meth:`take_back`) and extracts in the loop from then on, so
  nothing already handed over is lost except the jobs the child had taken and not yet written
  (and, if it died halfway through reading one, the jobs behind that one).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import multiprocessing
import pickle
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from provenance.capture.framepipe import FrameSender, read_available, split_frames
from provenance.ingest import Job

logger = logging.getLogger("provenance.capture")

MAX_BYTES = 256 * 1024 * 1024  # jobs waiting for the pipe to take them, at most
PAUSE = 0.02  # seconds the child waits, once caught up, before taking the next jobs


@dataclasses.dataclass(slots=True)
class WorkerReport:
    """What the child did, sent once at its end: the writer's counters plus its own."""

    written: int = 0
    dropped: int = 0
    failed_records: int = 0
    pending: int = 0
    journaled: int = 0  # records kept in the unstored journal instead of the store
    journal: list[str] = dataclasses.field(default_factory=list)  # its files
    parse_errors: int = 0  # records with at least one parse error
    extract_failures: int = 0  # extract() raised (a bare row was stored instead)
    error: str | None = None  # why the child could not start, if it could not


@dataclasses.dataclass(frozen=True, slots=True)
class EndOfJobs:
    """The last frame of the job pipe: write everything, journal what is unwritten by
    ``deadline`` (``time.time()``; None: no deadline), report, exit."""

    deadline: float | None = None


EXIT_MARGIN = 0.25  # of close()'s timeout, left for the child to journal and report
ORPHAN_TIMEOUT = 30.0  # seconds an orphaned child (the proxy died) keeps retrying the store


class ExtractWorker:
    """A child process that extracts and stores the exchanges a capture session hands it.

    ``url`` is the store's full URL (with any password: it is pickled to the child over a pipe,
    never put on a command line); ``redactor`` is pickled with its key; the child extracts with
    ``options`` through its own :class:`~provenance.ingest.Recorder`. ``on_seen`` is called
    from a reader thread with each stored record, bodies removed.
    """

    def __init__(
        self,
        url: str,
        *,
        redactor: Any,
        options: Any = None,
        on_seen: Callable[[Any], None] | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        # Jobs: pickled frames written straight from the hook (framepipe); the child reads them
        # with Connection.recv_bytes. The proxy keeps the read end too, to take back what a dead
        # child left unread.
        self._job_read, self._job_write = ctx.Pipe(duplex=False)
        self._sender = FrameSender(self._job_write.fileno(), max_backlog=max_bytes)
        results_read, results_write = ctx.Pipe(duplex=False)
        self._results = results_read
        self._on_seen = on_seen
        self.report: WorkerReport | None = None
        self.written = 0  # rows the child has committed so far (reported after every commit)
        self._done = threading.Event()
        self._closing = False
        self._process = ctx.Process(
            target=_child_main,
            args=(
                url,
                redactor,
                options,
                self._job_read,
                results_write,
                on_seen is not None,
            ),
            name="provenance-extract",
            daemon=True,
        )
        _start_clean(self._process)
        # Before multiprocessing's own exit handler (which would signal the child, ignored, and
        # wait): hand over the end marker so the child finishes writing and exits.
        atexit.register(self.close)
        results_write.close()  # the child holds the only write end: EOF means it is gone
        self._reader = threading.Thread(
            target=self._read_results, name="provenance-extract-results", daemon=True
        )
        self._reader.start()

    @property
    def alive(self) -> bool:
        """False once the child has ended (or failed to start)."""
        return not self._done.is_set()

    def submit(self, job: Job) -> bool:
        """Hand a job to the child; False (nothing queued) when the backlog is full or the child
        is gone. Raises only if the job cannot be pickled (nothing is sent then)."""
        if self._closing or self._done.is_set():
            return False
        return self._sender.send(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))

    def take_back(self) -> list[Job]:
        """The jobs the child left unread after it ended, so the caller can handle them itself.

        Call it before :meth:`release`. Best effort: if the child died halfway through reading a
        job, the rest cannot be told apart from that job's tail and is given up (logged).
        """
        backlog = self._sender.take_backlog()  # first: nothing more goes into the pipe after it
        data = read_available(self._job_read.fileno()) + backlog
        frames, used = split_frames(data)
        jobs: list[Job] = []
        for frame in frames:
            try:
                job = pickle.loads(frame)
            except Exception:
                used = -1
                break
            if isinstance(job, Job):  # not the end marker close() sent the child
                jobs.append(job)
        if used != len(data):
            logger.warning(
                "provenance: %d byte(s) of exchanges left by the extraction process could not "
                "be read back",
                len(data) - max(used, 0),
            )
        return jobs

    def close(self, timeout: float | None = 30.0) -> WorkerReport | None:
        """Hand over the end marker, wait for the child to write everything, return its report.

        The child journals what the store has not taken ``(1 - EXIT_MARGIN) * timeout`` from
        now. None if the child did not report (it died, or ``timeout`` passed: it is then
        killed; :attr:`written` still says what it committed).
        """
        if not self._closing:
            if not self._done.is_set():
                deadline = None if timeout is None else time.time() + timeout * (1 - EXIT_MARGIN)
                self._sender.send(pickle.dumps(EndOfJobs(deadline)))
            self._closing = True
            atexit.unregister(self.close)
            if not self._done.is_set():
                self._sender.close(timeout)
            self._process.join(timeout)
            if self._process.is_alive():
                logger.warning("provenance: the extraction process did not finish; stopping it")
                self._process.kill()
                self._process.join(5)
            self._reader.join(5)
        return self.report

    def release(self) -> None:
        """Close the job pipe (after :meth:`close` and any :meth:`take_back`)."""
        self._sender.take_backlog()
        for conn in (self._job_write, self._job_read):
            with contextlib.suppress(OSError):
                conn.close()

    def _read_results(self) -> None:
        try:
            while True:
                try:
                    kind, payload = self._results.recv()
                except (EOFError, OSError):
                    return
                if kind == "written":
                    self.written += payload
                elif kind == "seen" and self._on_seen is not None:
                    try:
                        self._on_seen(payload)
                    except Exception as exc:
                        logger.warning("provenance: on_record failed (%s)", type(exc).__name__)
                elif kind == "report":
                    self.report = payload
                    if payload.error:
                        logger.warning(
                            "provenance: the extraction process stopped: %s", payload.error
                        )
        finally:
            self._done.set()
            self._results.close()


def _start_clean(process: Any) -> None:
    """Start a ``spawn`` process without re-running this program's ``__main__`` in it."""
    from provenance.ingest.spawn import bare_main

    with bare_main():
        process.start()


def _child_main(
    url: str,
    redactor: Any,
    options: Any,
    jobs: Any,
    results: Any,
    send_seen: bool,
) -> None:
    """The child: open the store, extract and write jobs until the end marker or the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    report = WorkerReport()
    try:
        from provenance.ingest import Recorder
        from provenance.store import BatchWriter, open_store
        from provenance.store.journal import Journal

        store = open_store(url)
    except Exception as exc:
        report.error = f"cannot open the store ({type(exc).__name__}); extracting in the proxy"
        with contextlib.suppress(Exception):
            results.send(("report", report))
        return
    lock = threading.Lock()  # the writer thread reports commits while this one sends records

    def send(message: tuple[str, Any]) -> None:
        with lock, contextlib.suppress(Exception):
            results.send(message)

    recorder = Recorder(redactor, options)
    writer = BatchWriter(
        store, journal=Journal(url), on_written=lambda ids: send(("written", len(ids)))
    )
    deadline: float | None = time.time() + ORPHAN_TIMEOUT  # if the proxy dies
    try:
        while True:
            # Only the proxy holds the write end: when it dies, the read ends with EOF (also
            # halfway through a frame) and the child writes what it has and stops.
            try:
                job = pickle.loads(jobs.recv_bytes())
            except (EOFError, OSError):
                deadline = time.time() + ORPHAN_TIMEOUT
                break
            except Exception:  # a frame that does not unpickle: the stream cannot be trusted
                report.error = "an unreadable job from the proxy; stopping"
                break
            if not isinstance(job, Job):  # the end marker (None from an older proxy)
                deadline = job.deadline if isinstance(job, EndOfJobs) else None
                break
            if not jobs.poll():
                # Caught up: let the next jobs gather before waking again. At a few hundred
                # exchanges a second this wakes the process once per few jobs instead of once
                # per job (each wake-up also competes with the proxy for a core); records
                # reach the store's writer at most PAUSE later (it batches for longer anyway).
                time.sleep(PAUSE)
            record = recorder.record(job)
            writer.submit(record)
            if send_seen:
                send(("seen", replace(record, request_body=None, response_body=None)))
    finally:
        timeout = None if deadline is None else max(0.5, deadline - time.time())
        stats = writer.close(timeout)
        store.close()
        report.parse_errors = recorder.stats.parse_errors
        report.extract_failures = recorder.stats.failures
        report.written = stats.written
        report.dropped = stats.dropped
        report.failed_records = stats.failed_records
        report.pending = stats.pending
        report.journaled = stats.journaled
        report.journal = [str(p) for p in writer.journal_paths]
        send(("report", report))
        with contextlib.suppress(Exception):
            results.close()
