"""Real processes for the demo, the tests and the benchmarks: proxies and upstreams.

Proxies are real processes — plain ``mitmdump``, ``mitmdump -s <the capture addon>`` and
``provenance capture`` — listening on 127.0.0.1 port 0; :class:`ProxyProcess` reads the bound
port from their "listening" line and keeps everything they print (stdout and stderr merged:
tests scan it for secrets). :class:`Upstream` is the fast benchmark upstream
(:mod:`provenance.standins.upstream`). ``rss_kib``/``cpu_seconds``/``process_tree`` measure a
proxy with its extraction process.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from provenance.paths import checkout_root

ROOT = checkout_root() or Path.cwd()  # where subprocesses run (the checkout, when there is one)
BIN = Path(sys.executable).parent
LISTENING = re.compile(r"listening (?:at|on) 127\.0\.0\.1:(\d+)")
START_TIMEOUT = 120.0  # a loaded 2-core CI box can be slow to import mitmproxy + SQLAlchemy


class ProxyDidNotStart(RuntimeError):
    """The proxy exited, or printed no "listening" line in time; the message has its output."""


def capture_addon_path() -> Path:
    """The capture addon's file (``addons/capture.py`` in a checkout, installed alike)."""
    spec = importlib.util.find_spec("provenance.addons.capture")
    if spec is not None and spec.origin:
        return Path(spec.origin)
    return ROOT / "addons" / "capture.py"


def stream_addon_path() -> Path:
    """A mitmdump script that turns streaming on for every response (the fair baseline)."""
    return Path(__file__).with_name("stream_on.py")


class ProxyProcess:
    """A proxy subprocess. ``port`` is set once it listens; ``output`` is everything it printed.

    ``echo``: a prefix to print each line with as it arrives (the demo shows the proxy's lines).
    """

    def __init__(
        self, argv: list[str], *, env: dict[str, str] | None = None, echo: str | None = None
    ) -> None:
        self.argv = argv
        self.echo = echo
        self.lines: list[str] = []
        self.port: int | None = None
        self._listening = threading.Event()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if self.echo is not None:
                sys.stdout.write(f"{self.echo}{line}")
            match = LISTENING.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self._listening.set()
        self._listening.set()  # EOF: wake waiters

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_listening(self) -> int:
        """Block until the proxy listens; fail with its output if it exits first."""
        self._listening.wait(START_TIMEOUT)
        if self.port is None:
            self.stop()
            raise ProxyDidNotStart(f"proxy did not start: {self.argv}\n{self.output[-3000:]}")
        return self.port

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120.0) -> int:
        """Send ``sig`` and wait for exit; return the exit code (all output read)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(10)
        return code


def mitmdump_argv(confdir: Path, *settings: str) -> list[str]:
    """``mitmdump`` on 127.0.0.1, a free port, ``confdir``, quiet, then ``settings``."""
    return [
        str(BIN / "mitmdump"),
        "--listen-host",
        "127.0.0.1",
        "--listen-port",
        "0",
        "--set",
        f"confdir={confdir}",
        "--set",
        "flow_detail=0",
        *settings,
    ]


def mitmdump(
    db_url: str, confdir: Path, *extra: str, env: dict[str, str] | None = None
) -> ProxyProcess:
    """``mitmdump -s addons/capture.py`` on 127.0.0.1, a free port, the given store."""
    argv = mitmdump_argv(
        confdir,
        "--set",
        "ssl_insecure=true",
        "-s",
        str(capture_addon_path()),
        "--set",
        f"provenance_db={db_url}",
        *extra,
    )
    return ProxyProcess(argv, env=env)


def provenance_capture(
    db_url: str,
    confdir: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    verify: bool = False,
) -> ProxyProcess:
    """``provenance capture`` (in-process mitmproxy) on 127.0.0.1, a free port; upstream
    certificates unchecked (the stand-ins' are self-signed) unless ``verify``."""
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
            *([] if verify else ["--ssl-insecure"]),
            *extra,
        ],
        env=env,
    )


def run_cli(*args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    """Run ``provenance ARGS`` to completion (stdout and stderr kept apart)."""
    return subprocess.run(
        [str(BIN / "python"), "-m", "provenance.cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


class Upstream:
    """``python -m provenance.standins.upstream`` in a subprocess; ``port`` once listening."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "provenance.standins.upstream"],
            cwd=ROOT,
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
    """mitmdump with no addon of ours (streaming on for every response, if asked)."""
    return ProxyProcess(
        mitmdump_argv(confdir, *(["-s", str(stream_addon_path())] if streaming else []))
    )


def quiet_capture(
    db_url: str, confdir: Path, home: Path, *extra: str, code: Path | None = None
) -> ProxyProcess:
    """``provenance capture --quiet`` with its own ``PROVENANCE_HOME``, upstream certificates
    verified (load and soak runs against plain-HTTP upstreams). ``code``: run that checkout's
    ``provenance`` instead of the installed one (a benchmark's earlier revision)."""
    env = {"PROVENANCE_HOME": str(home)}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return provenance_capture(db_url, confdir, "--quiet", *extra, env=env, verify=True)


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
