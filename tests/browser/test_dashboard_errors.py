"""No traceback and no server path reaches a browser (issue 25, item 3), in Debian's Chromium.

* The exchange page opened with an id that is not one (``0``, ``-1``, ``abc``, huge numbers,
  none) says so in one message, in the real dashboard.
* An exception on a page — whatever page, whatever bug — shows Streamlit's generic notice,
  not the exception's message, its traceback or a file path: the dashboard's server runs with
  ``client.showErrorDetails = none``. Checked with the dashboard's own command line
  (:func:`provenance.cli.dashboard_cmd.streamlit_command`) serving an ``st.App`` whose page
  raises, since the real pages have no bug to show.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from provenance.cli.dashboard_cmd import streamlit_command
from tests.browser.test_dashboard_browser import (
    CHROMIUM_ARGS,
    _chromium,
    _free_port,
    running_dashboard,
)
from tests.conftest import service_missing
from tests.reporting.seed import seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
LEAKS = ("Traceback", 'File "', "site-packages", str(ROOT), ".py")


def _browser(pw):  # type: ignore[no-untyped-def]
    chromium = _chromium()
    if chromium is None:
        service_missing("Chromium not installed (Debian package `chromium`)")
    return pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)


def _leaks(text: str) -> list[str]:
    return [leak for leak in LEAKS if leak in text]


def test_a_bad_exchange_id_is_a_message_in_the_page(sqlite_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    seed(sqlite_url)
    with running_dashboard(sqlite_url, tmp_path) as base, sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for raw in ("0", "-1", "abc", "999999999999999999", "99999999999999999999999"):
            page.goto(f"{base}/exchange?id={raw}", wait_until="domcontentloaded")
            page.get_by_text(f"No exchange with id {raw}").wait_for(timeout=60_000)
            assert page.locator("[data-testid=stException]").count() == 0, raw
            main = page.locator("[data-testid=stMain]").inner_text()
            assert not _leaks(main), (raw, _leaks(main))
        page.goto(f"{base}/exchange", wait_until="domcontentloaded")
        page.get_by_text("Type an exchange id").wait_for(timeout=60_000)
        browser.close()


def test_an_exception_on_a_page_shows_no_details(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    secret = "/srv/provenance/secret-path/store.sqlite"
    (tmp_path / "boom.py").write_text(
        f"import streamlit as st\nst.title('before the bug')\nraise RuntimeError({secret!r})\n"
    )
    (tmp_path / "serve.py").write_text('import streamlit as st\napp = st.App("boom.py")\n')
    port = _free_port()
    log_path = tmp_path / "boom.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            streamlit_command(tmp_path / "serve.py", "127.0.0.1", port),
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "HOME": str(tmp_path)},
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        with sync_playwright() as pw:
            browser = _browser(pw)
            page = browser.new_page()
            page.goto(base, wait_until="domcontentloaded")
            page.get_by_text("before the bug").wait_for(timeout=60_000)
            notice = page.locator("[data-testid=stException]")
            notice.wait_for(timeout=30_000)
            text = page.locator("[data-testid=stMain]").inner_text()
            assert "encountered an error" in notice.inner_text()
            assert secret not in text and "RuntimeError" not in text
            assert not _leaks(text), _leaks(text)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert secret in log_path.read_text()  # the details are in the server's log instead
