"""The running dashboard in headless Chromium: a product and its base model are visible.

Uses Debian's Chromium (``PROVENANCE_CHROMIUM`` or ``/usr/bin/chromium``) driven by Playwright
with ``executable_path``; as root it needs ``--no-sandbox``. Screenshots of every page go to
``PROVENANCE_SCREENSHOT_DIR`` when set (``make screenshots`` refreshes ``docs/screenshots``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import service_missing
from tests.reporting.seed import seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = [("", "products"), ("product?product=composer", "product"),
         ("exchange?id=1", "exchange"), ("models", "models"), ("fingerprints", "fingerprints"),
         ("traffic", "traffic")]  # fmt: skip


def _chromium() -> str | None:
    found = os.environ.get("PROVENANCE_CHROMIUM") or shutil.which("chromium")
    return found if found and Path(found).exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_dashboard(
    url: str, tmp_path: Path, *extra: str, health_auth: tuple[str, str] | None = None
) -> Iterator[str]:
    """``provenance dashboard`` over ``url`` on a free port; yields its base URL
    (``health_auth``: the credentials its health check needs, when a password is set)."""
    port = _free_port()
    log_path = tmp_path / f"dashboard-{port}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "provenance.cli.main", "dashboard", "--db", url,
         "--port", str(port), *extra],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                pytest.fail(f"dashboard exited: {log_path.read_text()}")
            try:
                health = httpx.get(f"{base}/_stcore/health", timeout=1, auth=health_auth)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        else:
            pytest.fail("dashboard did not come up within 60 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def dashboard(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    seed(sqlite_url)
    with running_dashboard(sqlite_url, tmp_path) as base:
        yield base


def test_products_and_base_models_are_visible_in_chromium(dashboard: str) -> None:
    chromium = _chromium()
    if chromium is None:
        service_missing("Chromium not installed (Debian package `chromium`)")
    from playwright.sync_api import sync_playwright

    shots = os.environ.get("PROVENANCE_SCREENSHOT_DIR")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(dashboard, wait_until="domcontentloaded")
        page.get_by_text("Which base model does each product run on?").wait_for(timeout=60_000)
        page.get_by_text("cursor → kimi-k2.5 (90%)").wait_for(timeout=30_000)
        page.get_by_text("copilot → gpt-4o (90%)").wait_for(timeout=30_000)
        assert page.get_by_text("mystery → conflict").is_visible()
        page.get_by_text("cursor → kimi-k2.5 (90%)").click()
        cursor = page.locator("details", has_text="cursor → kimi-k2.5")
        cursor.get_by_text("accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast").wait_for()
        for path, name in PAGES:
            if path:
                page.goto(f"{dashboard}/{path}", wait_until="domcontentloaded")
            page.wait_for_timeout(2500)  # let charts draw before the picture
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)
        browser.close()
