"""Fixtures for the end-to-end tests: stand-in providers, a shared mitmdump, store polling."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from provenance.standins.processes import ProxyProcess, mitmdump
from provenance.standins.provider import StandInProvider
from tests.capture.dbrows import exchanges


@pytest.fixture(scope="module")
def standin() -> Iterator[StandInProvider]:
    with StandInProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def standin_tls() -> Iterator[StandInProvider]:
    with StandInProvider(tls=True) as provider:
        yield provider


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PROVENANCE_HOME for processes that outlive one test."""
    return tmp_path_factory.mktemp("e2e-home")


@pytest.fixture(scope="module")
def confdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mitmproxy's confdir: the proxy writes its CA here on first start."""
    return tmp_path_factory.mktemp("mitmproxy-conf")


@pytest.fixture(scope="module")
def shared_proxy(
    tmp_path_factory: pytest.TempPathFactory, confdir: Path, e2e_home: Path
) -> Iterator[tuple[ProxyProcess, str]]:
    """One ``mitmdump -s addons/capture.py`` for a module; yields (process, db URL)."""
    db = tmp_path_factory.mktemp("e2e-db") / "capture.sqlite"
    url = f"sqlite:///{db}"
    proc = mitmdump(url, confdir, env={"PROVENANCE_HOME": str(e2e_home)})
    proc.wait_listening()
    yield proc, url
    proc.stop()


def ca_context(confdir: Path) -> ssl.SSLContext:
    """An SSL context trusting only mitmproxy's CA from ``confdir``."""
    return ssl.create_default_context(cafile=str(confdir / "mitmproxy-ca-cert.pem"))


def proxied_client(proxy: ProxyProcess, confdir: Path, **kwargs: Any) -> httpx.Client:
    return httpx.Client(
        proxy=proxy.url, verify=ca_context(confdir), trust_env=False, timeout=60, **kwargs
    )


def sdk_client(sdk: Any, proxy: ProxyProcess, confdir: Path) -> Any:
    """The SDK's own HTTP client class (``openai``/``anthropic`` ``DefaultHttpxClient``; the
    anthropic 2.x SDKs accept only their ``httpx2`` clients), routed through ``proxy``."""
    return sdk.DefaultHttpxClient(
        proxy=proxy.url, verify=ca_context(confdir), trust_env=False, timeout=60
    )


def wait_for_rows(
    db_url: str,
    predicate: Callable[[dict[str, Any]], bool],
    count: int = 1,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """Poll the store until ``count`` exchanges match (the writer flushes every 0.25 s)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in exchanges(db_url) if predicate(r)]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def has_header(name: str, value: str) -> Callable[[dict[str, Any]], bool]:
    def match(row: dict[str, Any]) -> bool:
        return any(k.lower() == name and v == value for k, v in row["request_headers"])

    return match
