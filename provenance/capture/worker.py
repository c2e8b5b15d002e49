"""Extraction, redaction and store writes in a child process, off mitmproxy's event loop.

mitmproxy runs an addon's ``response`` hook before it forwards a buffered response, and every flow
of the proxy shares one event loop: whatever the hook costs is added to that request's latency and
queues every other flow behind it. :class:`ExtractWorker` moves that cost to a second process. The
hook only snapshots the exchange (:class:`~provenance.records.RawExchange` plus the finished body
taps of streamed bodies) and hands it over; the worker runs ``extract`` and writes through its own
:class:`~provenance.store.BatchWriter`.

Contract (the same as the in-loop path, which stays the fallback):

- :meth:`ExtractWorker.submit` never blocks and never raises. It returns False when the hand-over
  queue is full (``max_jobs`` jobs or ``max_bytes`` of bodies waiting), and the caller counts a
  drop; the bytes of the traffic are never touched.
- Unredacted data crosses only the pipe to our own child; what the child stores, logs or sends
  back is redacted (it sends back each record without its bodies, for the live log line).
- The child ignores SIGINT and SIGTERM: a Ctrl-C or a signal to the process group stops the proxy,
  and the proxy's shutdown (:meth:`close`) hands over the last jobs and waits for the child to
  write them. If the proxy itself dies (``kill -9``), the child notices within a second, writes
  what it has already received and exits.
- If the child dies or cannot open the store, :attr:`alive` turns False; the session then takes
  back the jobs still queued (:meth:`take_back`) and extracts in the loop from then on, so
  nothing already handed over is lost except the jobs the child had taken and not yet written.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("provenance.capture")

MAX_JOBS = 20_000
MAX_BYTES = 256 * 1024 * 1024
POLL_S = 0.5  # how often an idle child checks that the proxy is still alive
START_TIMEOUT_S = 60.0

# Job kinds: a raw exchange to extract, or a record already extracted (WebSockets).
RAW = "raw"
RECORD = "record"


@dataclasses.dataclass(slots=True)
class WorkerReport:
    """What the child did, sent once at its end: the writer's counters plus its own."""

    written: int = 0
    dropped: int = 0
    failed_records: int = 0
    pending: int = 0
    parse_errors: int = 0  # records with at least one parse error
    extract_failures: int = 0  # extract() raised (a bare row was stored instead)
    error: str | None = None  # why the child could not start, if it could not


def job_size(job: tuple[Any, ...]) -> int:
    """Approximate bytes of bodies in a job (what bounds the hand-over queue's memory)."""
    if job[0] != RAW:
        return 4096
    raw = job[1]
    size = 4096 + len(raw.request_body or b"") + len(raw.response_body or b"")
    for tap in job[2:4]:
        if tap is not None:
            size += len(getattr(tap, "body", b"") or b"") + 2 * len(getattr(tap, "text", "") or "")
    return size


class ExtractWorker:
    """A child process that extracts and stores the exchanges a capture session hands it.

    ``url`` is the store's full URL (with any password: it is pickled to the child over a pipe,
    never put on a command line); ``redactor`` is pickled with its key. ``on_seen`` is called
    from a reader thread with each stored record, bodies removed.
    """

    def __init__(
        self,
        url: str,
        *,
        redactor: Any,
        on_seen: Callable[[Any], None] | None = None,
        max_jobs: int = MAX_JOBS,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._jobs: Any = ctx.Queue(maxsize=max_jobs)
        self._bytes = ctx.Value("q", 0)  # bytes handed over and not yet taken by the child
        self._max_bytes = max_bytes
        results_read, results_write = ctx.Pipe(duplex=False)
        self._results = results_read
        self._on_seen = on_seen
        self.report: WorkerReport | None = None
        self._done = threading.Event()
        self._closing = False
        self._process = ctx.Process(
            target=_child_main,
            args=(
                url,
                redactor,
                self._jobs,
                self._bytes,
                results_write,
                os.getpid(),
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

    def submit(self, job: tuple[Any, ...]) -> bool:
        """Hand a job to the child; False (nothing queued) when the queue is full or closed."""
        if self._closing or self._done.is_set():
            return False
        size = job_size(job)
        with self._bytes.get_lock():
            if self._bytes.value + size > self._max_bytes:
                return False
            self._bytes.value += size
        try:
            self._jobs.put_nowait((size, job))
        except queue.Full:
            with self._bytes.get_lock():
                self._bytes.value -= size
            return False
        return True

    def take_back(self) -> list[tuple[Any, ...]]:
        """The jobs still queued after the child ended, so the caller can handle them itself.

        Call it before :meth:`release`; it waits at most 50 ms for the queue to run dry.
        """
        jobs: list[tuple[Any, ...]] = []
        while True:
            try:
                item = self._jobs.get(timeout=0.05)
            except (queue.Empty, OSError, ValueError):
                return jobs
            if item is not None:  # None: the end marker close() queued for the child
                jobs.append(item[1])

    def close(self, timeout: float | None = 30.0) -> WorkerReport | None:
        """Hand over the end marker, wait for the child to write everything, return its report.

        None if the child did not report (it died, or ``timeout`` passed: it is then killed).
        """
        if not self._closing:
            self._closing = True
            atexit.unregister(self.close)
            if not self._done.is_set():
                with contextlib.suppress(Exception):
                    self._jobs.put(None, timeout=timeout)
            self._process.join(timeout)
            if self._process.is_alive():
                logger.warning("provenance: the extraction process did not finish; stopping it")
                self._process.kill()
                self._process.join(5)
            self._reader.join(5)
        return self.report

    def release(self) -> None:
        """Free the hand-over queue (after :meth:`close` and any :meth:`take_back`)."""
        self._jobs.close()
        self._jobs.cancel_join_thread()  # nothing left to send: never wait at exit

    def _read_results(self) -> None:
        try:
            while True:
                try:
                    kind, payload = self._results.recv()
                except (EOFError, OSError):
                    return
                if kind == "seen" and self._on_seen is not None:
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


def _release_bytes(inflight: Any, size: int) -> None:
    """Take a job's bytes off the shared counter; skipped if the lock stays taken for a second
    (a proxy killed while holding it would otherwise block the child for ever)."""
    lock = inflight.get_lock()
    if lock.acquire(timeout=1.0):
        try:
            inflight.value -= size
        finally:
            lock.release()


def _start_clean(process: Any) -> None:
    """Start a ``spawn`` process without re-running this program's ``__main__`` in it.

    ``spawn`` normally re-imports the parent's main script in the child (as ``__mp_main__``) so
    that pickled functions defined there resolve. The child here only needs this module, and the
    main script is whatever embeds the proxy (mitmdump's launcher, a test runner, a Streamlit
    page...): running it again in the child is slow at best and fails at worst. So the start
    sees a bare ``__main__``.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        process.start()
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _child_main(
    url: str,
    redactor: Any,
    jobs: Any,
    inflight: Any,
    results: Any,
    parent_pid: int,
    send_seen: bool,
) -> None:
    """The child: open the store, extract and write jobs until the end marker or the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    report = WorkerReport()
    try:
        from provenance.capture.session import bare_record, light_record
        from provenance.extract import extract
        from provenance.store import BatchWriter, open_store

        store = open_store(url)
    except Exception as exc:
        report.error = f"cannot open the store ({type(exc).__name__}); extracting in the proxy"
        with contextlib.suppress(Exception):
            results.send(("report", report))
        return
    writer = BatchWriter(store)
    # The child only reads jobs. Dropping its copy of the queue's write end means that if the
    # proxy dies halfway through sending a job, the read ends with EOF instead of waiting forever.
    with contextlib.suppress(Exception):
        jobs._writer.close()
    try:
        while True:
            try:
                item = jobs.get(timeout=POLL_S)
            except queue.Empty:
                if os.getppid() != parent_pid:  # the proxy is gone: write what we have, stop
                    break
                continue
            except (EOFError, OSError):  # the proxy died mid-message: no writer is left
                break
            if item is None:
                break
            size, job = item
            _release_bytes(inflight, size)
            if job[0] == RAW:
                _, raw, request_tap, response_tap, extra_errors, options = job
                try:
                    record = extract(
                        raw,
                        redactor=redactor,
                        options=options,
                        request_tap=request_tap,
                        response_tap=response_tap,
                    )
                except Exception as exc:
                    report.extract_failures += 1
                    record = bare_record(raw, redactor, f"extraction failed: {type(exc).__name__}")
                record.parse_errors.extend(extra_errors)
            else:
                record = job[1]
            if record.parse_errors:
                report.parse_errors += 1
            writer.submit(record)
            if send_seen:
                with contextlib.suppress(Exception):
                    results.send(("seen", light_record(record)))
    finally:
        stats = writer.close(None)
        store.close()
        report.written = stats.written
        report.dropped = stats.dropped
        report.failed_records = stats.failed_records
        report.pending = stats.pending
        with contextlib.suppress(Exception):
            results.send(("report", report))
        results.close()
