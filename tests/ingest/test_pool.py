"""The import pool: the same rows as recording in one process, in order, nothing lost.

Real worker processes (``spawn``), a HAR of a few hundred entries (several chunks in flight),
WebSocket sessions among them (their messages cross to the workers as lists).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from provenance.importers.run import ImportOptions, import_file
from provenance.ingest import Job, Recorder
from provenance.ingest.pool import record_all
from provenance.records import RawExchange
from provenance.redact import Redactor
from provenance.store import open_store
from tests.capture.dbrows import exchanges
from tests.importers.samples import chrome_har, gemini_live_entry

pytestmark = pytest.mark.slow

GOOGLE_KEY = "AIzaSyD-" + "x" * 31
BEARER = ("authorization", "Bearer sk-proj-" + "Q" * 48)


def big_har(path: Path, copies: int) -> Path:
    """``copies`` times a browser HAR's entries plus a Gemini Live session each time, every
    entry dated apart so the order is visible in the rows."""
    doc = chrome_har([BEARER])
    entries: list[dict[str, Any]] = []
    for i in range(copies):
        for entry in [*doc["log"]["entries"], gemini_live_entry(GOOGLE_KEY)]:
            entry = json.loads(json.dumps(entry))
            entry["startedDateTime"] = f"2026-03-17T10:{i // 60:02d}:{i % 60:02d}.000Z"
            entries.append(entry)
    doc["log"]["entries"] = entries
    path.write_text(json.dumps(doc))
    return path


def rows_of(path: Path, url: str, workers: int) -> tuple[list[dict[str, Any]], Any]:
    store = open_store(url, create=True)
    try:
        summary = import_file(
            path,
            store=store,
            redactor=Redactor.from_data_dir(),
            options=ImportOptions(workers=workers),
        )
    finally:
        store.close()
    return [{k: v for k, v in row.items() if k != "id"} for row in exchanges(url)], summary


def test_the_pool_stores_what_one_process_stores(tmp_path: Path) -> None:
    har = big_har(tmp_path / "big.har", 60)
    alone, one = rows_of(har, f"sqlite:///{tmp_path / 'one.sqlite'}", 0)
    pooled, many = rows_of(har, f"sqlite:///{tmp_path / 'pool.sqlite'}", 2)
    assert one.stored == many.stored == len(alone) > 3 * 64  # several chunks in flight
    assert (one.parse_errors, one.extract_failures) == (many.parse_errors, many.extract_failures)
    assert pooled == alone
    assert any(r["api"] and "gemini" in r["api"] for r in pooled)  # the WebSocket sessions
    assert GOOGLE_KEY.encode() not in (tmp_path / "pool.sqlite").read_bytes()


def test_a_truncated_file_keeps_every_exchange_read_before_the_fault(tmp_path: Path) -> None:
    har = big_har(tmp_path / "big.har", 40)
    data = har.read_bytes()
    cut = tmp_path / "cut.har"
    cut.write_bytes(data[: len(data) * 2 // 3])
    alone, one = rows_of(cut, f"sqlite:///{tmp_path / 'one.sqlite'}", 0)
    pooled, many = rows_of(cut, f"sqlite:///{tmp_path / 'pool.sqlite'}", 2)
    assert one.error and many.error == one.error
    assert len(pooled) == len(alone) == one.stored > 64 and pooled == alone


def test_a_chunk_that_cannot_cross_is_recorded_here_in_order() -> None:
    from datetime import UTC, datetime

    def job(i: int) -> Job:
        raw = RawExchange(datetime.now(UTC), "POST", f"https://api.openai.com/v1/x{i}", [],
                          b'{"model": "gpt-4o"}', 200, [], b"{}")  # fmt: skip
        return Job(raw)

    jobs = [job(i) for i in range(10)]
    jobs[4].extra_errors = [lambda: None]  # type: ignore[list-item]  # does not pickle
    recorder = Recorder(Redactor(b"pool-test-key-0123456789abcdef!!"))
    records = list(record_all(jobs, recorder, workers=1, chunk=3))
    assert [r.path for r in records] == [f"/v1/x{i}" for i in range(10)]
    assert recorder.stats.records == 10


def test_import_jobs_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from provenance.cli.main import main as cli

    har = big_har(tmp_path / "small.har", 2)
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    assert cli(["import", str(har), "--db", url, "--jobs", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid --jobs -1") and err.count("\n") == 1
    assert not (tmp_path / "cli.sqlite").exists()
    assert cli(["import", str(har), "--db", url, "--jobs", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["stored"] == len(exchanges(url))
