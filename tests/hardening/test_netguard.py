"""RequestGuard over a tiny ASGI app, through httpx's ASGI transport (no sockets needed)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from provenance.netguard import RequestGuard, host_name


async def _echo(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok:" + body})


def _client(**options) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    guard = RequestGuard(_echo, **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://x")


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("127.0.0.1:8501", "127.0.0.1"),
        ("LocalHost", "localhost"),
        ("[::1]:8000", "::1"),
        ("example.com.", "example.com"),
        ("", None),
        ("a@b", None),
        ("::1", None),
        ("host:port", None),
        ("h:99999", None),
        ("[::1", None),
    ],
)
def test_host_name(value: str, host: str | None) -> None:
    assert host_name(value) == host


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"host": "127.0.0.1:8501"}, 200),
        ({"host": "localhost:8501"}, 200),
        ({"host": "[::1]:8501"}, 200),
        ({"host": "10.1.2.3"}, 200),  # a literal address cannot be rebound
        ({"host": "dash.example"}, 200),  # --allow-host
        ({"host": "attacker.test"}, 421),
        ({"host": "attacker.test:8501"}, 421),
        ({"host": "127.0.0.1.nip.io"}, 421),
        ({"host": "localhost.attacker.test"}, 421),
        ({"host": ""}, 421),
        ({"host": "127.0.0.1:8501", "origin": "http://127.0.0.1:8501"}, 200),
        ({"host": "127.0.0.1:8501", "origin": "http://dash.example"}, 200),
        ({"host": "127.0.0.1:8501", "origin": "http://attacker.test"}, 403),
        ({"host": "127.0.0.1:8501", "origin": "http://127.0.0.1:9999"}, 403),  # another port
        ({"host": "127.0.0.1:8501", "origin": "null"}, 403),
    ],
)
def test_host_and_origin(headers: dict[str, str], status: int) -> None:
    async def call() -> httpx.Response:
        async with _client(allow_hosts=["dash.example"]) as client:
            return await client.get("/", headers=headers)

    reply = asyncio.run(call())
    assert reply.status_code == status
    if status != 200:
        assert not reply.text.startswith("ok:")


def test_json_only_bodies_and_the_byte_cap() -> None:
    asyncio.run(_json_only_bodies_and_the_byte_cap())


async def _json_only_bodies_and_the_byte_cap() -> None:
    async with _client(json_only=True, max_body=100) as client:
        host = {"host": "127.0.0.1"}
        ok = await client.post("/", json={"a": 1}, headers=host)
        assert (ok.status_code, ok.text) == (200, 'ok:{"a":1}')
        plain = await client.post(
            "/", content=b"{}", headers={**host, "content-type": "text/plain"}
        )
        assert plain.status_code == 415
        form = await client.post("/", data={"a": "1"}, headers=host)
        assert form.status_code == 415
        big = await client.post("/", json={"a": "x" * 200}, headers=host)
        assert big.status_code == 413

        async def chunks():  # no Content-Length: refused while it arrives
            for _ in range(50):
                yield b"x" * 10

        streamed = await client.post(
            "/", content=chunks(), headers={**host, "content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert (await client.get("/", headers=host)).status_code == 200  # GET has no body rule


def test_password_hashes_verify_and_differ_per_salt() -> None:
    from provenance.netguard import hash_password, password_matches

    one, two = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert one != two and one.startswith("scrypt$")
    assert password_matches(one, "correct horse battery")
    assert not password_matches(one, "correct horse batter")
    assert not password_matches("garbage", "x") and not password_matches("md5$00$00", "x")


def test_the_password_gate_refuses_everything_without_the_password() -> None:
    import base64

    from provenance.netguard import PasswordGate, hash_password

    gate = PasswordGate(_echo, password_hash=hash_password("correct horse battery"))

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"authorization": f"Basic {token}"}

    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=gate)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return [
                await client.get("/"),
                await client.get("/", headers=basic("auditor", "wrong")),
                await client.get("/", headers={"authorization": "Bearer correct horse battery"}),
                await client.get("/", headers={"authorization": "Basic !!notbase64"}),
                await client.get("/", headers=basic("auditor", "correct horse battery")),
                await client.get("/", headers=basic("anyone", "correct horse battery")),
            ]

    *refused, ok, again = asyncio.run(calls())
    assert [r.status_code for r in refused] == [401] * 4
    assert all("ok:" not in r.text for r in refused)
    assert refused[0].headers["www-authenticate"].startswith("Basic ")
    assert ok.status_code == again.status_code == 200
