"""Fixtures for the hardening tests: the fast loopback upstream, a proxy launcher, store reads.

The upstream and the load generator are the benchmark's own (``provenance.standins.upstream``,
``provenance.standins.loadgen``): raw asyncio HTTP/1.1, so thousands of requests cost seconds,
and every response is compared byte for byte with what the upstream sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from provenance.standins.processes import ProxyProcess, Upstream
from provenance.standins.processes import quiet_capture as provenance_capture


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as up:
        yield up


@pytest.fixture(scope="module")
def confdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mitmproxy-conf")


@pytest.fixture
def start_capture(confdir: Path, tmp_path: Path) -> Iterator[Callable[..., ProxyProcess]]:
    """``start_capture(db_url, *extra)``: a listening ``provenance capture``; stopped at the end."""
    procs: list[ProxyProcess] = []

    def start(db_url: str, *extra: str) -> ProxyProcess:
        proc = provenance_capture(db_url, confdir, tmp_path / "home", *extra)
        procs.append(proc)
        proc.wait_listening()
        return proc

    yield start
    for proc in procs:
        proc.stop()


def count(url: str) -> int:
    """Committed exchanges, read through a fresh connection."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM exchanges")).scalar_one())
    finally:
        engine.dispose()


def wait_count(url: str, expected: int, timeout: float = 120.0) -> int:
    """Poll until ``expected`` exchanges are committed (or the timeout); return the count."""
    deadline = time.monotonic() + timeout
    while True:
        n = count(url)
        if n >= expected or time.monotonic() > deadline:
            return n
        time.sleep(0.25)


def stored_tags(url: str) -> list[int]:
    """The ``x-bench-seq`` of every stored exchange (tagged runs of the load generator)."""
    engine = create_engine(url)
    out: list[int] = []
    try:
        with engine.connect() as conn:
            for (headers,) in conn.execute(text("SELECT request_headers FROM exchanges")):
                if isinstance(headers, str):
                    headers = json.loads(headers)
                out += [int(v) for k, v in headers if k.lower() == "x-bench-seq"]
    finally:
        engine.dispose()
    return out
