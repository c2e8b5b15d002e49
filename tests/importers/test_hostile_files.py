"""Hostile and malformed import files, through the real CLI in a child process.

Each file ends in one of two ways: exit 0 with its bad items skipped and counted, or exit 2 with
exactly one ``error:`` line on stderr and every exchange read before the fault stored. Never a
traceback, never exit 1. The two shapes that used to be quadratic (a gzip of 1 GiB of whitespace,
one 256 MiB string) run with a bound on the child's peak memory; the subprocess timeout is the
bound on time (generous: it catches quadratic behaviour, not a slow machine).
"""

from __future__ import annotations

import gzip
import json
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.importers.samples import chrome_har

MiB = 1 << 20


def _entries_json(n: int) -> str:
    """``n`` valid entries (from the browser-shaped sample), comma-joined."""
    entry = chrome_har()["log"]["entries"][0]
    out = []
    for i in range(n):
        one = dict(entry, startedDateTime=f"2026-03-17T10:00:{i:02d}.000Z")
        out.append(json.dumps(one))
    return ", ".join(out)


def _with_surrogate_ids() -> str:
    entries = json.loads("[" + _entries_json(3) + "]")
    for entry in entries[1:2]:
        body = json.loads(entry["request"]["postData"]["text"])
        body["model"] = "x\ud800"
        entry["request"]["postData"]["text"] = json.dumps(body)
    return json.dumps({"log": {"entries": entries}})


def _write(text: str | bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(text.encode() if isinstance(text, str) else text)

    return make


def _whitespace_bomb(path: Path) -> None:
    with gzip.open(path, "wb", compresslevel=6) as out:
        out.write(('{"log": {"version": "1.2", "entries": [' + _entries_json(2)).encode())
        spaces = b" " * MiB
        for _ in range(1024):
            out.write(spaces)
        out.write(b"]}}")


def _huge_string(path: Path) -> None:
    with path.open("wb") as out:
        out.write(('{"log": {"entries": [' + _entries_json(2) + ', {"comment": "').encode())
        chunk = b"a" * MiB
        for _ in range(256):
            out.write(chunk)
        out.write(('"}, ' + _entries_json(1) + "]}}").encode())


def _truncated_gzip(path: Path) -> None:
    data = gzip.compress(('{"log": {"entries": [' + _entries_json(3) + "]}}").encode())
    path.write_bytes(data[: len(data) - 20])


# Runs the CLI and writes its own peak RSS (VmHWM, KiB) on the way out. The kernel's ru_maxrss of
# a child counts the parent's memory at fork time, so it cannot bound the child alone.
PEAK_RECORDER = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(line.split()[1])
atexit.register(peak)
sys.argv[0] = "provenance"
runpy.run_module("provenance", run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], None]
    code: int
    stored: int
    message: str = ""  # a part of the error line (exit 2) or of a skip reason (exit 0)
    max_rss_mib: int = 300


CASES = [
    Case("random.bin", _write(b"\x00\x01" + random.Random(7).randbytes(4096)), 2, 0, "not a HAR"),
    Case("empty.har", _write(b""), 2, 0, "not a HAR"),
    Case("not-utf8.har", _write(b'{"log": {"entries": [{"x": "\xff\xfe"}]}}'), 2, 0, "UTF-8"),
    Case("entries-not-a-list.har", _write('{"log": {"entries": 5}}'), 2, 0, "malformed HAR"),
    Case(
        "truncated.har",
        _write('{"log": {"entries": [' + _entries_json(2) + ', {"startedDateTime": "20'),
        2,
        2,
        "ends inside",
    ),
    Case("truncated.har.gz", _truncated_gzip, 2, 0, "truncated"),
    Case(
        "bad-items.har",
        _write('{"log": {"entries": [1, {"a":}, ' + "[" * 200_000 + "]" * 200_000 + "]}}"),
        0,
        0,
        "nested too deeply",
    ),
    Case(
        "one-bad-item-among-good.har",
        _write(
            '{"log": {"entries": [' + _entries_json(2) + ', {"x": tru}, ' + _entries_json(1) + "]}}"
        ),
        0,
        3,
        "not valid JSON",
    ),
    # a model id holding a lone surrogate (JSON allows the escape; no database stores it)
    Case("lone-surrogate.har", lambda p: p.write_text(_with_surrogate_ids()), 0, 3),
    Case("length-claim.flow", _write(b"999999999999:{"), 2, 0, "flow file"),
    Case("not-a-dict.flow", _write(b"5:hello,"), 2, 0, "flow file"),
    Case("garbage-dict.flow", _write(b"30:5:hello,6:abcdef,8:xyzxyzxy,}"), 2, 0, "flow file"),
]


def _deep_tnetstring(depth: int) -> bytes:
    text = b"0:}"
    for _ in range(depth):
        text = str(len(text)).encode() + b":" + text + b"]"
    return text


CASES.append(Case("deep.flow", lambda p: p.write_bytes(_deep_tnetstring(5000)), 2, 0, "nested"))

SLOW_CASES = [
    Case("whitespace-bomb.har.gz", _whitespace_bomb, 0, 2, "", max_rss_mib=200),
    Case("huge-string.har", _huge_string, 0, 3, "larger than 64 MiB", max_rss_mib=600),
]


def _run(case: Case, tmp_path: Path) -> None:
    path = tmp_path / case.name
    case.make(path)
    db = tmp_path / "store.sqlite"
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    peak_path = tmp_path / "peak"
    with out_path.open("wb") as out_file, err_path.open("wb") as err_file:
        child = subprocess.Popen(
            [sys.executable, "-c", PEAK_RECORDER, str(peak_path),
             "import", str(path), "--db", str(db), "--json"],
            stdout=out_file,
            stderr=err_file,
        )  # fmt: skip
    try:
        child.wait(timeout=240)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        pytest.fail(f"{case.name}: still importing after 240 s")
    out, err = out_path.read_bytes(), err_path.read_bytes()
    stderr = err.decode(errors="replace")
    assert "Traceback" not in stderr, stderr
    assert child.returncode == case.code, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    if case.code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        assert case.message in lines[0], lines[0]
    else:
        summary = json.loads(out)["files"][0]
        assert summary["error"] is None
        reasons = " ".join(summary["skipped"])
        assert case.message in reasons, summary
    stored = 0
    if db.exists():
        with sqlite3.connect(db) as conn:
            stored = conn.execute("select count(*) from exchanges").fetchone()[0]
    assert stored == case.stored
    peak_kib = int(peak_path.read_text())
    assert peak_kib / 1024 < case.max_rss_mib


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_file(case: Case, tmp_path: Path) -> None:
    _run(case, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_CASES, ids=lambda c: c.name)
def test_hostile_file_in_bounded_time_and_memory(case: Case, tmp_path: Path) -> None:
    _run(case, tmp_path)
