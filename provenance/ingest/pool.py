"""Recording on more cores: a small process pool for file imports.

:func:`record_all` turns jobs into records in worker processes, in chunks, and yields them in
the order the jobs came; the caller (one reader, one writer) stays in this process. At most
``window`` chunks are in flight, so memory stays bounded whatever the file's size. With
``workers=0`` (one core, or asked for) it is :meth:`Recorder.record` in a loop.

Each worker holds its own :class:`~provenance.ingest.Recorder` (the redactor crosses as its key,
never as text). A chunk that cannot be sent to or recorded by a worker (a job that does not
pickle, a worker that died) is recorded here instead: a pool can make an import faster, never
lose an exchange. The per-chunk counters come back with the records and add up in ``stats``.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Any

from provenance.ingest.job import Job
from provenance.ingest.recorder import Recorder, RecorderStats
from provenance.ingest.spawn import bare_main
from provenance.records import ExchangeRecord

CHUNK = 64  # jobs per task: enough to amortise a round trip, small enough to stay responsive
MAX_WORKERS = 4

_worker: Recorder | None = None  # the worker process's recorder (set by _init)


def default_workers() -> int:
    """Worker processes worth starting here: one per core, at most :data:`MAX_WORKERS`; 0
    (record in this process) on a single core. The reading and writing process is light
    (about a quarter of an import's CPU), so it shares a core with a worker: on two cores two
    workers imported a 14 MiB HAR 1.3x faster than one process, one worker only 1.05x."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return min(MAX_WORKERS, cores) if cores > 1 else 0


def record_all(
    jobs: Iterable[Job],
    recorder: Recorder,
    *,
    workers: int,
    chunk: int = CHUNK,
    window: int | None = None,
) -> Iterator[ExchangeRecord]:
    """The records of ``jobs``, in order. ``recorder`` records locally (``workers=0``, and any
    chunk a worker could not take); its ``stats`` receive every chunk's counters. If reading the
    jobs raises, every job read before is still recorded and yielded, then the error is
    raised."""
    if workers <= 0:
        for job in jobs:
            yield recorder.record(job)
        return
    import multiprocessing

    window = window or 2 * workers
    context = multiprocessing.get_context("spawn")
    pending: deque[tuple[list[Job], Future[Any] | None]] = deque()
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init,
        initargs=(recorder.redactor, recorder.options),
    ) as pool:
        iterator = iter(jobs)
        fault: BaseException | None = None
        while True:
            while fault is None and len(pending) < window:
                batch: list[Job] = []
                try:
                    batch.extend(_portable(job) for job in islice(iterator, chunk))
                except Exception as exc:  # a malformed file: what was read before still counts
                    fault = exc
                if batch:
                    pending.append((batch, _submit(pool, batch)))
                if len(batch) < chunk:
                    break
            if not pending:
                if fault is not None:
                    raise fault
                return
            batch, future = pending.popleft()
            yield from _results(batch, future, recorder)


def _portable(job: Job) -> Job:
    """A job that pickles: a recorded WebSocket session's messages as a list, not a generator."""
    if job.messages is not None and not isinstance(job.messages, list):
        job.messages = list(job.messages)
    return job


def _submit(pool: ProcessPoolExecutor, batch: list[Job]) -> Future[Any] | None:
    try:
        with bare_main():  # the pool starts its processes inside submit()
            return pool.submit(_record_chunk, batch)
    except Exception:  # the pool is broken: record this chunk here
        return None


def _results(
    batch: list[Job], future: Future[Any] | None, recorder: Recorder
) -> list[ExchangeRecord]:
    try:
        records, stats = future.result() if future is not None else (None, None)
    except Exception:  # unpicklable job, dead worker: record the chunk here
        records = stats = None
    if records is None or stats is None:
        return [recorder.record(job) for job in batch]
    recorder.stats.add(stats)
    return records


def _init(redactor: Any, options: Any) -> None:
    global _worker
    _worker = Recorder(redactor, options)


def _record_chunk(batch: list[Job]) -> tuple[list[ExchangeRecord], RecorderStats]:
    assert _worker is not None, "the pool's initializer did not run"
    _worker.stats = RecorderStats()  # this chunk's counters only
    return [_worker.record(job) for job in batch], _worker.stats
