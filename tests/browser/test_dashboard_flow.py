"""An auditor's path through the running dashboard in Chromium, and its authentication.

From the landing page to a product, to the exchange that carries the Kimi id, where the id is
shown highlighted in its excerpt; a filter in the URL changes the numbers; the report downloads;
with a password configured, a browser without it sees no data and one with it sees the audit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.test_dashboard_browser import CHROMIUM_ARGS, _chromium, running_dashboard
from tests.conftest import service_missing
from tests.reporting.seed import KIMI, seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "correct horse battery staple"


def _browser(pw):  # type: ignore[no-untyped-def]
    chromium = _chromium()
    if chromium is None:
        service_missing("Chromium not installed (Debian package `chromium`)")
    return pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)


def test_from_the_landing_page_to_the_exchange_behind_a_verdict(
    sqlite_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    seed(sqlite_url)
    with running_dashboard(sqlite_url, tmp_path) as base, sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.goto(base, wait_until="domcontentloaded")
        page.get_by_text("Which base model does each product run on?").wait_for(timeout=60_000)
        page.get_by_text("Read-only view of").first.wait_for()
        page.get_by_role("link", name="cursor: kimi-k2.5 (evidence)").click()
        page.get_by_text("Base model per day").wait_for(timeout=30_000)
        assert "product=cursor" in page.url
        page.get_by_role("link", name=f"exchange 1: {KIMI}").first.click()
        page.get_by_text("Exchange 1", exact=True).wait_for(timeout=30_000)
        assert "id=1" in page.url
        highlighted = page.locator("span.stMarkdownColoredBackground", has_text=KIMI)
        highlighted.first.wait_for(timeout=30_000)
        # a filter in the URL changes the numbers
        page.goto(f"{base}/?since=2026-03-06", wait_until="domcontentloaded")
        page.get_by_text("Filtered:").wait_for(timeout=60_000)
        exchanges = page.locator("[data-testid='stMetric']", has_text="Exchanges")
        assert exchanges.inner_text().split()[-1] == "1"
        page.goto(base, wait_until="domcontentloaded")
        page.get_by_text("Download the audit report").wait_for(timeout=60_000)
        with page.expect_download() as download:
            page.get_by_role("button", name="Report (HTML)").click()
        saved = tmp_path / "report.html"
        download.value.save_as(saved)
        text = saved.read_text()
        assert "<h1>Base-model audit</h1>" in text and "How verdicts are reached" in text
        assert "<svg" in text and "kimi-k2.5" in text
        browser.close()


def test_with_a_password_an_unauthenticated_browser_sees_no_data(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    seed(sqlite_url)
    monkeypatch.setenv("PROVENANCE_TEST_PASSWORD", PASSWORD)
    extra = ("--password-env", "PROVENANCE_TEST_PASSWORD")
    auth = ("u", PASSWORD)
    with (
        running_dashboard(sqlite_url, tmp_path, *extra, health_auth=auth) as base,
        sync_playwright() as pw,
    ):
        import httpx

        for path in ("/", "/_stcore/health", "/product?product=cursor"):
            assert httpx.get(base + path).status_code == 401
        assert httpx.get(base + "/_stcore/health", auth=("u", "wrong password!")).status_code == 401
        browser = _browser(pw)
        stranger = browser.new_page()
        try:  # headless Chromium cannot show the password prompt: the navigation fails
            response = stranger.goto(base, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            assert "AUTH" in str(exc)
        else:
            assert response is not None and response.status == 401
        stranger.wait_for_timeout(2000)
        content = stranger.content()
        assert "kimi" not in content.lower() and "cursor" not in content
        auditor = browser.new_context(http_credentials={"username": "u", "password": PASSWORD})
        page = auditor.new_page()
        page.goto(base, wait_until="domcontentloaded")
        page.get_by_text("cursor → kimi-k2.5 (90%)").wait_for(timeout=60_000)
        browser.close()
    assert "PROVENANCE_TEST_PASSWORD" in os.environ  # ours; the server got only the hash
