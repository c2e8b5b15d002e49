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
    from provenance.passwords import hash_password, password_matches

    one, two = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert one != two and one.startswith("scrypt$")
    assert password_matches(one, "correct horse battery")
    assert not password_matches(one, "correct horse batter")
    assert not password_matches("garbage", "x") and not password_matches("md5$00$00", "x")


def test_the_password_gate_refuses_everything_without_the_password() -> None:
    import base64

    from provenance.gate import PasswordGate
    from provenance.passwords import hash_password

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


# --------------------------------------------------------------------------- the password gate
# Issue 25 item 3: guessing is throttled per client address, scrypt runs beside the event loop,
# and the gate cannot be configured into letting everyone in.

GOOD = "correct horse battery"


def _basic(password: str, user: str = "auditor") -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _gate_client(gate, address: str = "10.0.0.1") -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=gate, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://x")


def test_after_repeated_failures_a_client_is_refused_with_429_without_a_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from provenance import gate as gating
    from provenance.passwords import hash_password

    stored = hash_password(GOOD)
    checks: list[str] = []
    real = gating.password_matches

    def counting(hashed: str, password: str) -> bool:
        checks.append(password)
        return real(hashed, password)

    monkeypatch.setattr(gating, "password_matches", counting)
    clock = _Clock()
    throttle = gating.Throttle(free_failures=3, base_delay=2.0, max_delay=30.0, clock=clock)
    gate = gating.PasswordGate(_echo, password_hash=stored, throttle=throttle)

    async def calls() -> None:
        async with _gate_client(gate) as guesser, _gate_client(gate, "10.0.0.2") as other:
            for n in range(3):  # the free failures: each one checked, each one 401
                assert (await guesser.get("/", headers=_basic(f"guess {n}"))).status_code == 401
            assert len(checks) == 3
            fourth = await guesser.get("/", headers=_basic("guess 3"))
            assert fourth.status_code == 401 and len(checks) == 4  # checked; now locked 2 s
            locked = await guesser.get("/", headers=_basic(GOOD, user="new"))
            assert locked.status_code == 429
            assert locked.headers["retry-after"] == "2"
            assert "ok:" not in locked.text and len(checks) == 4  # not even the right one ran
            # another address is not affected
            assert (await other.get("/", headers=_basic(GOOD))).status_code == 200
            clock.now += 2.0
            fifth = await guesser.get("/", headers=_basic("guess 4"))
            assert fifth.status_code == 401  # checked again once the delay is over ...
            again = await guesser.get("/", headers=_basic("guess 5"))
            assert again.status_code == 429 and again.headers["retry-after"] == "4"  # ... doubled
            clock.now += 4.0
            ok = await guesser.get("/", headers=_basic(GOOD, user="again"))
            assert ok.status_code == 200  # the right password resets the count
            for n in range(3):
                assert (await guesser.get("/", headers=_basic(f"later {n}"))).status_code == 401

    asyncio.run(calls())


def test_the_delay_grows_to_its_cap_and_is_forgotten_after_a_quiet_while() -> None:
    from provenance.gate import Throttle

    clock = _Clock()
    throttle = Throttle(
        free_failures=1, base_delay=1.0, max_delay=8.0, forget_after=100.0, clock=clock
    )
    delays = []
    for _ in range(7):
        clock.now += throttle.retry_after("a")
        delays.append(throttle.failed("a"))
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert throttle.retry_after("a") == 8.0 and throttle.retry_after("b") == 0.0
    clock.now += 8.0 + 100.0
    assert throttle.retry_after("a") == 0.0
    assert throttle.failed("a") == 0.0  # counted from zero again
    throttle.succeeded("a")
    assert throttle.failed("a") == 0.0


def test_the_table_of_clients_is_bounded() -> None:
    from provenance.gate import Throttle

    clock = _Clock()
    throttle = Throttle(free_failures=0, base_delay=60.0, max_clients=3, clock=clock)
    for address in ("a", "b", "c"):
        throttle.failed(address)
    throttle.retry_after("a")  # a was seen last: b is now the least recently used
    throttle.failed("d")
    assert len(throttle) == 3
    assert throttle.retry_after("b") == 0.0  # evicted
    assert all(throttle.retry_after(x) > 0 for x in ("a", "c", "d"))


def test_ipv6_clients_are_throttled_per_64_network() -> None:
    from provenance.gate import client_key

    one = client_key({"client": ("2001:db8:1:2::1", 1)})
    two = client_key({"client": ("2001:db8:1:2:ffff::9", 2)})
    assert one == two != client_key({"client": ("2001:db8:1:3::1", 1)})
    assert client_key({"client": ("127.0.0.1", 5)}) == "127.0.0.1"
    assert client_key({"client": None}) == client_key({}) == "unknown"


def test_a_logged_in_user_is_served_while_a_password_check_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """scrypt runs beside the event loop: a request whose credential is already verified is
    answered while a guess is still being checked (here: a check held open by the test)."""
    import threading

    from provenance import gate as gating
    from provenance.passwords import hash_password

    release = threading.Event()
    events: list[str] = []

    def slow(hashed: str, password: str) -> bool:
        if password != GOOD:
            release.wait(timeout=5)  # a check that takes long (5 s at most)
            events.append("guess checked")
            return False
        return True

    monkeypatch.setattr(gating, "password_matches", slow)
    gate = gating.PasswordGate(_echo, password_hash=hash_password(GOOD))

    async def calls() -> None:
        async with _gate_client(gate, "10.0.0.5") as user, _gate_client(gate) as guesser:
            assert (await user.get("/", headers=_basic(GOOD))).status_code == 200
            guess = asyncio.create_task(guesser.get("/", headers=_basic("wrong")))
            await asyncio.sleep(0.05)  # the guess is being checked
            served = await user.get("/", headers=_basic(GOOD))
            events.append(f"user {served.status_code}")
            release.set()
            assert (await guess).status_code == 401

    asyncio.run(calls())
    assert events == ["user 200", "guess checked"]


def test_checks_run_at_most_a_few_at_a_time_and_one_per_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading
    import time

    from provenance import gate as gating
    from provenance.passwords import hash_password

    lock = threading.Lock()
    running, peak, calls_made = 0, 0, 0

    def tracked(hashed: str, password: str) -> bool:
        nonlocal running, peak, calls_made
        with lock:
            running += 1
            calls_made += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(gating, "password_matches", tracked)
    gate = gating.PasswordGate(_echo, password_hash=hash_password(GOOD), max_checks=2)

    async def many_addresses() -> list[int]:
        clients = [_gate_client(gate, f"10.0.1.{i}") for i in range(8)]
        try:
            replies = await asyncio.gather(
                *(c.get("/", headers=_basic(f"guess {i}")) for i, c in enumerate(clients))
            )
        finally:
            for c in clients:
                await c.aclose()
        return [r.status_code for r in replies]

    assert asyncio.run(many_addresses()) == [401] * 8
    assert calls_made == 8 and peak == 2

    async def one_address() -> list[httpx.Response]:
        async with _gate_client(gate, "10.0.2.1") as client:
            return list(
                await asyncio.gather(
                    *(client.get("/", headers=_basic(f"guess {i}")) for i in range(6))
                )
            )

    calls_made = 0
    replies = asyncio.run(one_address())
    assert sorted(r.status_code for r in replies) == [401] + [429] * 5
    assert calls_made == 1  # one check at a time per address; the rest refused unchecked
    assert all(r.headers.get("retry-after") for r in replies if r.status_code == 429)


def test_requests_with_the_same_new_credential_share_one_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A browser sends several requests with a credential not yet verified: they wait for the
    one check instead of being refused or checked again."""
    import time

    from provenance import gate as gating

    checked: list[str] = []

    def once(hashed: str, password: str) -> bool:
        checked.append(password)
        time.sleep(0.05)
        return password == GOOD

    monkeypatch.setattr(gating, "password_matches", once)
    gate = gating.PasswordGate(_echo, password_hash="scrypt$00$00")

    async def calls() -> list[int]:
        async with _gate_client(gate) as client:
            replies = await asyncio.gather(
                *(client.get(f"/{i}", headers=_basic(GOOD)) for i in range(5))
            )
        return [r.status_code for r in replies]

    assert asyncio.run(calls()) == [200] * 5
    assert checked == [GOOD]


def test_a_websocket_handshake_from_a_locked_out_client_is_closed() -> None:
    from provenance.gate import PasswordGate, Throttle

    clock = _Clock()
    throttle = Throttle(free_failures=0, base_delay=10.0, clock=clock)
    throttle.failed("10.0.0.1")
    gate = PasswordGate(_echo, password_hash="scrypt$00$00", throttle=throttle)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    scope = {"type": "websocket", "client": ("10.0.0.1", 1), "headers": [
        (b"authorization", _basic(GOOD)["authorization"].encode())]}  # fmt: skip
    asyncio.run(gate(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008}]


@pytest.mark.parametrize(
    "password",
    [
        "",
        " " * 12,
        "\t \n" * 8,
        "short pw",
        "   eleven ch   ",  # 9 characters once stripped
        "a" * 20,
        "ab" * 8,
        "abcabcabcabc",
        "123456789012",
        "000000000000000",
        "abcdefghijklmnop",
        "qwertyuiopasdfgh",
        "password1234",
        "Password2026!",
        "PASSWORD PASSWORD",
        "letmein letmein",
        "administrator",
        "provenance-dashboard",
    ],
)
def test_weak_passwords_are_named_as_such(password: str) -> None:
    from provenance.passwords import password_weakness

    reason = password_weakness(password)
    assert reason is not None and reason.strip()
    if password.strip():
        assert password.strip() not in reason  # the message never repeats the password


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "Tr0ub4dor&3-extra", "kimi is not gpt-4o!", "x7#kQ9!vL2pz"],
)
def test_reasonable_passwords_pass(password: str) -> None:
    from provenance.passwords import password_weakness

    assert password_weakness(password) is None


def test_the_hash_is_handed_over_once_through_a_pipe() -> None:
    from provenance.passwords import hand_over_secret, take_handed_secret

    env: dict[str, str] = {}
    hand_over_secret("scrypt$aa$bb", env)
    assert "scrypt$aa$bb" not in "".join(env.values())  # only a descriptor number travels
    assert take_handed_secret(env) == "scrypt$aa$bb"
    with pytest.raises(RuntimeError, match="password"):
        take_handed_secret(env)  # read once: a second read finds nothing, and says so
    assert take_handed_secret({}) is None  # no password configured
