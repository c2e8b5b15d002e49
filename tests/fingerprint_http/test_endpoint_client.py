"""The one HTTP client both fingerprint stages use: base URLs, retries, budget, safe errors.

Against a real HTTP server on a loopback port that answers from a script per request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from provenance.fingerprint.http import BudgetSpent, EndpointClient, EndpointError

KEY = "sk-test-Zx9VeryS3cretKey0123456789abcdef"


class Scripted:
    """Answers each POST with the next (status, headers, body) of ``script``; records requests."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.script = list(script)
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.seen.append((self.path, headers, body))
                status, extra, payload = outer.script.pop(0) if outer.script else (200, {}, b"{}")
                self.send_response(status)
                for name, value in {"content-type": "application/json", **extra}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Scripted]:
    srv = Scripted([])
    yield srv
    srv.close()


@pytest.mark.parametrize(
    ("api", "suffix", "path", "sent"),
    [
        ("openai", "", "/chat/completions", "/v1/chat/completions"),  # the SDK's default /v1
        ("openai", "/v1", "/chat/completions", "/v1/chat/completions"),
        ("openai", "/api/openai/v1/", "/completions", "/api/openai/v1/completions"),
        ("openai", "/openai/deployments/d?api-version=2024-10-21", "/chat/completions",
         "/openai/deployments/d/chat/completions?api-version=2024-10-21"),
        ("anthropic", "", "/v1/messages", "/v1/messages"),
        ("anthropic", "/v1", "/v1/messages", "/v1/messages"),  # a pasted /v1 is dropped
    ],
)  # fmt: skip
def test_one_base_url_convention(server: Scripted, api: str, suffix: str, path: str,
                                 sent: str) -> None:  # fmt: skip
    with EndpointClient(server.base + suffix, api=api, api_key=KEY) as client:
        answer = client.post(path, {"model": "m"})
    assert answer.status == 200 and answer.doc == {}
    ((seen_path, headers, body),) = server.seen
    assert seen_path == sent and json.loads(body) == {"model": "m"}
    if api == "openai":
        assert headers["authorization"] == f"Bearer {KEY}" and "x-api-key" not in headers
    else:
        assert headers["x-api-key"] == KEY and headers["anthropic-version"]
        assert "authorization" not in headers


def test_retries_follow_retry_after_and_count_every_attempt(server: Scripted) -> None:
    waits: list[float] = []
    server.script = [(429, {"retry-after": "7"}, b'{"error":{"message":"slow"}}'),
                     (503, {}, b"busy"), (200, {}, b'{"ok": true}')]  # fmt: skip
    client = EndpointClient(server.base, max_wait=5, sleep=waits.append)
    answer = client.post("/completions", {})
    assert answer.doc == {"ok": True} and client.requests_sent == 3
    assert waits == [5, 4.0]  # Retry-After capped at max_wait; then 2**attempt
    client.close()


def test_the_last_answer_is_returned_with_its_error_text(server: Scripted) -> None:
    server.script = [(500, {}, b'{"error": {"message": "boom\\n  twice"}}')] * 3
    client = EndpointClient(server.base, sleep=lambda s: None)
    answer = client.post("/completions", {})
    assert answer.status == 500 and answer.error_text() == "boom twice"
    assert client.requests_sent == 3
    client.close()


def test_the_budget_counts_retries(server: Scripted) -> None:
    server.script = [(500, {}, b"{}")] * 3
    client = EndpointClient(server.base, max_requests=2, sleep=lambda s: None)
    with pytest.raises(BudgetSpent, match="budget of 2 requests"):
        client.post("/completions", {})
    assert client.requests_sent == 2 and len(server.seen) == 2
    client.close()


def test_an_unreachable_endpoint_is_one_safe_line() -> None:
    url = f"http://user:{KEY}@127.0.0.1:9/v1?key={KEY}"
    client = EndpointClient(url, api_key=KEY, max_attempts=2, sleep=lambda s: None)
    with pytest.raises(EndpointError) as info:
        client.post("/completions", {})
    message = str(info.value)
    assert "\n" not in message and KEY not in message
    assert message.startswith("cannot reach http://127.0.0.1:9/v1/completions")
    assert client.requests_sent == 2
