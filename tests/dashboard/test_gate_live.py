"""The running dashboard's password gate against the red team's attacks (issue 25, item 3),
with a real HTTP client against ``provenance dashboard`` on loopback.

* ``--password-env PROVENANCE_DASHBOARD_PASSWORD_HASH`` (the name the command once used for the
  hash it hands to the server) still requires the password, as does any other name;
* a client that keeps guessing is answered 429 with ``Retry-After`` — the right password too,
  unchecked — while a user already logged in from the same address keeps being served; once
  the delay is over the right password is accepted and clears the count. Claiming another
  address in ``X-Forwarded-For`` does not start a fresh count (no proxy is trusted).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.browser.test_dashboard_browser import running_dashboard
from tests.reporting.seed import seed

pytestmark = [pytest.mark.slow]
PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize("name", ["PROVENANCE_DASHBOARD_PASSWORD_HASH", "PROVENANCE_TEST_PW"])
def test_the_password_is_required_whatever_its_variable_is_called(
    name: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_url)
    monkeypatch.setenv(name, PASSWORD)
    extra = ("--password-env", name)
    with running_dashboard(sqlite_url, tmp_path, *extra, health_auth=("u", PASSWORD)) as base:
        for path in ("/", "/_stcore/health", "/exchange?id=1"):
            assert httpx.get(base + path).status_code == 401, path
        assert httpx.get(base + "/", auth=("u", "wrong password!")).status_code == 401
        assert httpx.get(base + "/", auth=("u", PASSWORD)).status_code == 200


def test_a_guessing_client_is_throttled_while_the_logged_in_user_is_served(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sqlite_url)
    monkeypatch.setenv("PROVENANCE_TEST_PW", PASSWORD)
    extra = ("--password-env", "PROVENANCE_TEST_PW")
    with (
        running_dashboard(sqlite_url, tmp_path, *extra, health_auth=("u", PASSWORD)) as base,
        httpx.Client(base_url=base, auth=("auditor", PASSWORD)) as user,
        httpx.Client(base_url=base) as guesser,  # the same address: 127.0.0.1
    ):
        assert user.get("/_stcore/health").status_code == 200
        statuses = []
        for n in range(12):  # each guess claims another address: the claim is not believed
            spoof = {"x-forwarded-for": f"10.9.0.{n}", "forwarded": f"for=10.9.1.{n}"}
            reply = guesser.get("/_stcore/health", auth=("u", f"guess {n}"), headers=spoof)
            statuses.append(reply.status_code)
            if reply.status_code == 429:
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
        wait = int(reply.headers["retry-after"])
        assert wait >= 1 and "too many" in reply.text
        # while locked out, not even the right password is checked ...
        unchecked = guesser.get("/_stcore/health", auth=("someone new", PASSWORD))
        assert unchecked.status_code == 429
        # ... and the user who logged in before is served all along
        for _ in range(3):
            assert user.get("/_stcore/health").status_code == 200
            assert guesser.get("/", auth=("u", "still guessing")).status_code == 429
        time.sleep(int(unchecked.headers["retry-after"]) + 0.2)
        assert guesser.get("/_stcore/health", auth=("someone new", PASSWORD)).status_code == 200
        for n in range(2):  # the success cleared the count: free failures again
            assert guesser.get("/_stcore/health", auth=("u", f"wrong {n}")).status_code == 401
