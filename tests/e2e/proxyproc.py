"""Run a real proxy process (``mitmdump -s addons/capture.py`` or ``provenance capture``) for tests.

The process's stdout and stderr are merged and kept (tests scan them for secrets); the bound
port is read from the "listening" line, so the proxy can listen on port 0.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LISTENING = re.compile(r"listening (?:at|on) 127\.0\.0\.1:(\d+)")
START_TIMEOUT = 120.0  # a loaded 2-core CI box can be slow to import mitmproxy + SQLAlchemy


class ProxyProcess:
    """A proxy subprocess. ``port`` is set once it listens; ``output`` is everything it printed."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None) -> None:
        self.argv = argv
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
            raise AssertionError(f"proxy did not start: {self.argv}\n{self.output[-3000:]}")
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


def mitmdump(
    db_url: str, confdir: Path, *extra: str, env: dict[str, str] | None = None
) -> ProxyProcess:
    """``mitmdump -s addons/capture.py`` on 127.0.0.1, a free port, the given store."""
    return ProxyProcess(
        [
            str(BIN / "mitmdump"),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            "0",
            "--set",
            f"confdir={confdir}",
            "--set",
            "ssl_insecure=true",
            "--set",
            "flow_detail=0",
            "-s",
            str(ROOT / "addons" / "capture.py"),
            "--set",
            f"provenance_db={db_url}",
            *extra,
        ],
        env=env,
    )


def provenance_capture(
    db_url: str, confdir: Path, *extra: str, env: dict[str, str] | None = None
) -> ProxyProcess:
    """``provenance capture`` (in-process mitmproxy) on 127.0.0.1, a free port."""
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
            "--ssl-insecure",
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
