"""The dashboard against attacker-chosen data and attacker-chosen requests.

* Every page over a store full of hostile strings (``tests/hardening/hostile.py``), in Debian's
  Chromium: no request leaves for any host but the dashboard's, no script of the data runs (no
  dialog, no marker set), every "Why" expander opened.
* DNS rebinding and cross-site requests against the real server: a foreign ``Host`` gets 421
  for pages, health and the WebSocket handshake; a foreign ``Origin`` is refused; a name given
  with ``--allow-host`` is answered.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.browser.test_dashboard_browser import (
    CHROMIUM_ARGS,
    PAGES,
    _chromium,
    running_dashboard,
)
from tests.conftest import service_missing
from tests.hardening.hostile import seed_hostile

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MARKER_SCRIPT = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned = 2'>"


def test_hostile_data_makes_no_request_and_runs_no_script(sqlite_url: str, tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        service_missing("Chromium not installed (Debian package `chromium`)")
    from playwright.sync_api import sync_playwright

    seed_names = seed_hostile(sqlite_url, extra=(MARKER_SCRIPT,), big=False)
    with running_dashboard(sqlite_url, tmp_path) as base, sync_playwright() as pw:
        own = urlsplit(base).netloc
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        requests: list[str] = []
        dialogs: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        texts = seed_names[:]
        extra = [f"exchange?id={i}" for i in range(1, len(texts) + 1)]
        extra += [f"product?{urlencode({'product': f'p{i} {t}'})}" for i, t in enumerate(texts[:6])]
        for path in [p for p, _ in PAGES] + extra:
            page.goto(f"{base}/{path}", wait_until="domcontentloaded")
            page.locator("[data-testid=stElementContainer]").first.wait_for(timeout=60_000)
            page.wait_for_timeout(800)
            if not path:  # the data is there, as text
                assert page.get_by_text("alert(1)", exact=False).count() > 0
            for summary in page.locator("details summary").all()[:40]:
                summary.click()
            page.wait_for_timeout(400)
            assert page.evaluate("window.__pwned") is None
        browser.close()
    foreign = [u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
               and urlsplit(u).netloc != own]  # fmt: skip
    assert not foreign, foreign
    assert not dialogs, dialogs


def _upgrade_status(base: str, host: str, origin: str | None = None) -> str:
    """The status line the server answers a WebSocket handshake for its stream with."""
    parts = urlsplit(base)
    lines = [
        "GET /_stcore/stream HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return conn.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_rebinding_and_cross_site_requests_get_nothing(sqlite_url: str, tmp_path: Path) -> None:
    seed_hostile(sqlite_url, big=False)
    with running_dashboard(sqlite_url, tmp_path, "--allow-host", "dash.example") as base:
        port = urlsplit(base).port
        for path in ("/", "/_stcore/health", "/models"):
            refused = httpx.get(base + path, headers={"Host": f"attacker.test:{port}"})
            assert refused.status_code == 421, path
            assert "Which base model" not in refused.text
        cross = httpx.get(base + "/_stcore/health", headers={"Origin": "http://attacker.test"})
        assert cross.status_code == 403
        assert httpx.get(base + "/_stcore/health").status_code == 200
        named = httpx.get(base + "/_stcore/health", headers={"Host": f"dash.example:{port}"})
        assert named.status_code == 200
        assert " 101 " in _upgrade_status(base, f"127.0.0.1:{port}", base)
        assert " 101 " not in _upgrade_status(base, f"attacker.test:{port}")
        assert " 101 " not in _upgrade_status(base, f"127.0.0.1:{port}", "http://attacker.test")
