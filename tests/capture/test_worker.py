"""The extraction process: same rows as in the loop, survives signals, and loses nothing if it dies.

The addon is driven with mitmproxy's test helpers; the child is a real ``spawn``-ed process
writing to a real SQLite store.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mitmproxy.test import taddons

from provenance.ingest import Job
from provenance.redact import Redactor
from tests.capture.dbrows import exchanges
from tests.capture.test_addon import KEY, chat_flow, load_addon_module, run_flow

SSE = b"".join(
    b"data: " + chunk + b"\n\n"
    for chunk in (
        b'{"id":"c1","model":"kimi-k2p5-fast","choices":[{"delta":{"content":"hi"}}]}',
        b'{"id":"c1","model":"kimi-k2p5-fast","choices":[],"usage":{"prompt_tokens":4,'
        b'"completion_tokens":1}}',
        b"[DONE]",
    )
)
VOLATILE = {"id", "started_at", "created_at"}


def drive_both(addon: Any) -> None:
    """One JSON exchange and one SSE stream, each carrying the secret in its request."""
    run_flow(addon, chat_flow(resp_content=b'{"model":"gpt-4o-2024-08-06","choices":[]}'))
    flow = chat_flow(
        body={"model": "accounts/fireworks/models/kimi-k2p5", "stream": True},
        resp_headers={"content-type": "text/event-stream"},
        host="api.fireworks.ai",
    )
    run_flow(addon, flow, chunks=[SSE[:50], SSE[50:]])


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stored_rows(url: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in exchanges(url)]


def test_the_worker_stores_exactly_what_the_loop_stores(tmp_path: Any) -> None:
    urls = {}
    for in_process in (True, False):
        url = f"sqlite:///{tmp_path}/{'worker' if in_process else 'loop'}.sqlite"
        addon = load_addon_module().Capture(print_summary=False)
        with taddons.context(addon) as tctx:
            tctx.configure(addon, provenance_db=url, provenance_extract_process=in_process)
            assert (addon.session.handover.worker is not None) is in_process
            drive_both(addon)
            addon.done()
        assert addon.summary.written == 2 and addon.summary.dropped == 0
        urls[in_process] = url
    worker_rows, loop_rows = stored_rows(urls[True]), stored_rows(urls[False])
    assert worker_rows == loop_rows
    assert len(worker_rows) == 2 and worker_rows[1]["streamed"] in (1, True)
    assert ("kimi-k2p5-fast", "sse_frame") in {i[:2] for i in worker_rows[1]["ids"]}
    for url in urls.values():
        assert KEY.encode() not in Path(url.removeprefix("sqlite:///")).read_bytes()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_worker_ignores_signals_to_the_process_group(sqlite_url: str, sig: int) -> None:
    """Ctrl-C reaches every process of the group: the proxy decides when the child stops."""
    addon = load_addon_module().Capture(print_summary=False)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        worker = addon.session.handover.worker
        drive_both(addon)
        wait_for(lambda: len(exchanges(sqlite_url)) == 2)  # the child is up and writing
        os.kill(worker._process.pid, sig)
        time.sleep(0.3)
        assert worker.alive
        drive_both(addon)
        addon.done()
    assert addon.summary.written == 4 and addon.summary.write_failures == 0
    assert len(exchanges(sqlite_url)) == 4


def test_a_dead_worker_hands_its_queue_back_and_nothing_is_lost(sqlite_url: str) -> None:
    addon = load_addon_module().Capture(print_summary=False)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        worker = addon.session.handover.worker
        worker._process.kill()  # still starting: it has taken nothing yet
        worker._process.join(10)
        for _ in range(3):  # handed over (or run here, if the death was already noticed)
            drive_both(addon)
        wait_for(lambda: not worker.alive)
        drive_both(addon)  # the death is noticed: the queue comes back, the loop takes over
        assert addon.session.handover.worker is None
        addon.done()
    assert len(exchanges(sqlite_url)) == 8
    assert addon.summary.exchanges == 8 and addon.summary.submitted == 8
    assert addon.summary.written == 8 and addon.summary.dropped == 0


def test_an_in_memory_store_keeps_extraction_in_the_loop() -> None:
    from provenance.capture.options import CaptureOptions
    from provenance.capture.session import CaptureSession
    from provenance.store import open_store

    store = open_store("sqlite://", create=True)
    session = CaptureSession.open(CaptureOptions(), store=store, worker=True)
    try:
        assert session.handover.worker is None
    finally:
        session.close()
        store.close()


def test_a_redactor_crosses_to_the_child_as_its_key_only() -> None:
    redactor = Redactor(b"k" * 32)
    redactor.digest("warm the cache")
    copy = pickle.loads(pickle.dumps(redactor))
    assert copy.digest("sk-secret") == redactor.digest("sk-secret")
    assert copy.digest("sk-secret") != Redactor(b"j" * 32).digest("sk-secret")


def test_a_worker_that_dies_just_before_shutdown_loses_nothing(sqlite_url: str) -> None:
    """Killed while starting, then shut down at once: the end marker queued for it is skipped
    and everything handed over is written by the proxy process."""
    addon = load_addon_module().Capture(print_summary=False)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        addon.session.handover.worker._process.kill()
        drive_both(addon)
        addon.done()
    assert len(exchanges(sqlite_url)) == 2
    assert addon.summary.written == 2 and addon.summary.dropped == 0


def test_the_child_does_not_rerun_the_embedding_program(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``spawn`` would re-run the parent's main script in the child; ours must not."""
    marker = tmp_path / "ran"
    script = tmp_path / "embedding_program.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    addon = load_addon_module().Capture(print_summary=False)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        worker = addon.session.handover.worker
        drive_both(addon)
        wait_for(lambda: len(exchanges(sqlite_url)) == 2)  # written by the child
        assert worker.alive
        addon.done()
    assert worker.report is not None and worker.report.written == 2
    assert not marker.exists()
    assert sys.modules["__main__"] is fake_main


def test_a_job_that_does_not_pickle_is_extracted_in_the_proxy(sqlite_url: str) -> None:
    addon = load_addon_module().Capture(print_summary=False)
    with taddons.context(addon) as tctx:
        tctx.configure(addon, provenance_db=sqlite_url)
        flow = chat_flow(resp_content=b'{"model":"gpt-4o-2024-08-06","choices":[]}')
        flow.response.headers["x-unpicklable"] = "1"
        handover = addon.session.handover
        real = handover._to_worker

        def poisoned(job: Job) -> bool:
            if any(name == "x-unpicklable" for name, _ in job.raw.response_headers):
                job.extra_errors = [lambda: None]  # type: ignore[list-item]  # does not pickle
                handed = real(job)
                job.extra_errors = []
                return handed
            return real(job)

        handover._to_worker = poisoned
        run_flow(addon, flow)
        assert handover.writer is not None  # the proxy wrote it itself
        addon.done()
    (row,) = exchanges(sqlite_url)
    assert {i[0] for i in row["ids"]} >= {"gpt-4o", "gpt-4o-2024-08-06"}
    assert addon.summary.written == 1 and addon.summary.dropped == 0
