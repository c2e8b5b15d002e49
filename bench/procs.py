"""Processes the proxy suite and the hardening tests run: the upstream and the proxies.

Proxies are real processes: plain ``mitmdump`` (optionally with streaming on), ``mitmdump -s
addons/capture.py`` and ``provenance capture``; all listen on 127.0.0.1 port 0, and the bound port
is read from their "listening" line (:class:`tests.e2e.proxyproc.ProxyProcess`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.proxyproc import BIN, ROOT, ProxyProcess

START_TIMEOUT_S = 120


class Upstream:
    """``python -m bench.upstream`` in a subprocess; ``port`` once listening."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.upstream"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"upstream did not start: {line!r}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Upstream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def plain_mitmdump(confdir: Path, *, streaming: bool = False) -> ProxyProcess:
    """mitmdump with no addon of ours (``flow_detail=0``: no per-flow output)."""
    argv = [
        str(BIN / "mitmdump"),
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        "0",
        "--set",
        f"confdir={confdir}",
        "--set",
        "flow_detail=0",
    ]
    if streaming:
        argv += ["-s", str(ROOT / "bench" / "addons" / "stream_on.py")]
    return ProxyProcess(argv)


def provenance_capture(db_url: str, confdir: Path, home: Path, *extra: str) -> ProxyProcess:
    """``provenance capture --quiet`` (in-process mitmproxy + the capture addon)."""
    return ProxyProcess(
        [
            str(BIN / "python"),
            "-m",
            "provenance.cli.main",
            "capture",
            "--listen-port",
            "0",
            "--db",
            db_url,
            "--confdir",
            str(confdir),
            "--quiet",
            *extra,
        ],
        env={"PROVENANCE_HOME": str(home)},
    )


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in KiB of a process and all its descendants, from /proc.

    The capture proxy's extraction runs in a child process, so the proxy's memory is the
    tree's. The peak is the sum of each process's own high-water mark (an upper bound).
    """
    rss = peak = 0
    for member in process_tree(pid):
        values = {}
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:  # ended meanwhile
            continue
        for line in lines:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1])
        rss += values.get("VmRSS", 0)
        peak += values.get("VmHWM", 0)
    return rss, peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0.0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc/PID/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found
