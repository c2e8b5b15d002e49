"""Describe the machine a benchmark ran on (CPU, cores, memory, load, Python and versions)."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = ("mitmproxy", "SQLAlchemy", "psycopg", "streamlit", "httpx", "hypothesis")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def postgres_version() -> str | None:
    """The server version of the PostgreSQL binaries the test fixture would start, if any."""
    import subprocess

    from provenance.standins.postgres import find_pg_bindir

    bindir = find_pg_bindir()
    if bindir is None:
        return None
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def describe() -> list[tuple[str, str]]:
    """(label, value) pairs for the report's machine table."""
    mem = memory_gib()
    rows = [
        ("date (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("CPU", cpu_model()),
        ("cores (online / usable)", f"{os.cpu_count()} / {len(os.sched_getaffinity(0))}"),
        ("memory", f"{mem:.1f} GiB" if mem is not None else "n/a"),
        ("load average at start (1, 5, 15 min)", load_average()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", sys.version.split()[0]),
    ]
    rows += [(name, version) for name, version in versions().items()]
    pg = postgres_version()
    rows.append(("PostgreSQL", pg or "not found"))
    import sqlite3

    rows.append(("SQLite", sqlite3.sqlite_version))
    return rows
