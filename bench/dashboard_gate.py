"""What password guessing costs a logged-in user of the dashboard, and how fast one can guess.

    python -m bench.dashboard_gate [--quick] [--seconds S]     # prints one JSON line per figure

Starts the real ``provenance dashboard --password-env`` (over an empty SQLite store, on
loopback) and measures, with real HTTP clients:

- ``user``: the median (and p90) latency of a logged-in user's requests (``/_stcore/health``
  with the right password, already verified once) while 0, 8 or 32 clients send wrong passwords
  as fast as they are answered. Each guessing client connects from an address of its own
  (127.0.0.11, 127.0.0.12, …: Linux routes all of 127/8 to loopback), the way distinct
  attackers would, so a per-address throttle does not simply lock them all out at once;
  ``same address`` repeats the 8-client run with every guesser on the user's 127.0.0.1; the
  control runs 8 and 32 clients that send requests without credentials (answered 401 without
  any check), so what the guessing itself costs stands apart from what any flood of requests
  costs on this machine (the clients share its cores with the server).
- ``guessing``: how many wrong passwords one client had checked per second over ``--seconds``
  (an answer 401 counts as a guess checked, an answer 429 as refused unchecked).

A figure is a median over the run, measured side by side with the no-guesser baseline in the
same run. Nothing here asserts a time; the tests assert the behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from provenance.standins.stats import median, percentile

PASSWORD = "bench: correct horse battery staple"
PASSWORD_ENV = "PROVENANCE_BENCH_DASHBOARD_PASSWORD"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dashboard(workdir: Path) -> Iterator[str]:
    """``provenance dashboard`` with a password over an empty store; yields its base URL."""
    from provenance.store import open_store

    db = f"sqlite:///{workdir / 'gate.sqlite'}"
    open_store(db, create=True).close()
    port = _free_port()
    log = (workdir / "dashboard.log").open("w")
    env = {**os.environ, PASSWORD_ENV: PASSWORD, "HOME": str(workdir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "provenance.cli.main", "dashboard", "--db", db,
         "--port", str(port), "--password-env", PASSWORD_ENV],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError((workdir / "dashboard.log").read_text()[-2000:])
            try:
                reply = httpx.get(f"{base}/_stcore/health", auth=("u", PASSWORD), timeout=2)
                if reply.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the dashboard did not come up within 120 s")
            time.sleep(0.25)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _client(base: str, address: str | None = None) -> httpx.AsyncClient:
    """A client whose every request is on a new connection (``Connection: close``): on a
    kept-alive connection this server answers every request after the first some 40 ms late
    (TCP delayed acknowledgement, with or without the gate), which would hide the gate's cost."""
    transport = httpx.AsyncHTTPTransport(local_address=address) if address else None
    return httpx.AsyncClient(
        base_url=base, transport=transport, timeout=60, headers={"connection": "close"}
    )


async def _guess(
    base: str,
    address: str | None,
    stop: asyncio.Event,
    counts: dict,
    me: int = 0,
    password: bool = True,
) -> None:
    """Send wrong passwords, each one different from every other client's (``password=False``:
    requests without credentials, the control), until ``stop``; count answers by status."""
    async with _client(base, address) as client:
        n = 0
        while not stop.is_set():
            n += 1
            auth = ("u", f"wrong guess {me}-{n}") if password else None
            try:
                reply = await client.get("/_stcore/health", auth=auth)
            except httpx.HTTPError:
                counts["error"] = counts.get("error", 0) + 1
                continue
            counts[reply.status_code] = counts.get(reply.status_code, 0) + 1


async def user_latency(
    base: str, guessers: int, seconds: float, same_address: bool, password: bool = True
) -> dict:
    """The logged-in user's latencies while ``guessers`` clients guess (``password=False``:
    while as many clients send requests without credentials, as fast)."""
    stop = asyncio.Event()
    counts: dict = {}
    tasks = [
        asyncio.create_task(
            _guess(base, None if same_address else f"127.0.0.{11 + i}", stop, counts, i, password)
        )
        for i in range(guessers)
    ]
    latencies: list[float] = []
    async with _client(base) as user:
        first = await user.get("/_stcore/health", auth=("u", PASSWORD))
        assert first.status_code == 200, first.status_code
        await asyncio.sleep(min(1.0, seconds / 4))  # let the guessers get going
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            reply = await user.get("/_stcore/health", auth=("u", PASSWORD))
            latencies.append(time.perf_counter() - start)
            if reply.status_code != 200:
                counts[f"user {reply.status_code}"] = counts.get(f"user {reply.status_code}", 0) + 1
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*tasks)
    return {
        "figure": "user" if password else "user, clients without credentials (control)",
        "guessers": guessers,
        "same_address": same_address,
        "user_median_ms": round(median(latencies) * 1000, 2),
        "user_p90_ms": round(percentile(latencies, 90) * 1000, 2),
        "user_requests": len(latencies),
        "answers": {str(k): v for k, v in sorted(counts.items(), key=str)},
    }


async def guess_rate(base: str, seconds: float) -> dict:
    """Wrong passwords one client gets checked per second (one request at a time)."""
    stop = asyncio.Event()
    counts: dict = {}
    task = asyncio.create_task(_guess(base, "127.0.0.99", stop, counts))
    await asyncio.sleep(seconds)
    stop.set()
    await task
    return {
        "figure": "guessing",
        "seconds": seconds,
        "checked_per_s": round(counts.get(401, 0) / seconds, 2),
        "refused_unchecked": counts.get(429, 0),
        "answers": {str(k): v for k, v in sorted(counts.items(), key=str)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per figure")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per figure")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory() as tmp, dashboard(Path(tmp)) as base:

        async def run() -> None:
            runs = [(0, False, True), (8, False, True), (32, False, True), (8, True, True)]
            runs += [(8, False, False), (32, False, False)]
            for guessers, same, password in runs:
                figure = await user_latency(base, guessers, seconds, same, password)
                print(json.dumps(figure), flush=True)
            print(json.dumps(await guess_rate(base, seconds)), flush=True)

        asyncio.run(run())


if __name__ == "__main__":
    main()
