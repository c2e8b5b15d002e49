"""A lean HTTP/1.1 load generator (raw asyncio, keep-alive) for the proxy suite and the tests.

It talks to the upstream of :mod:`provenance.standins.upstream` either directly or through an HTTP
proxy (absolute-form request target), so the only difference between a direct and a proxied run is
the proxy. Each worker keeps one connection and sends requests back to back (or paced, ``rate``);
every response is checked byte for byte against what the upstream sends (``mismatches``). For
streams it records when each SSE event arrived: time to first event and inter-event gaps.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field

from provenance.standins.upstream import SSE_DONE, json_body, sse_event

PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class Endpoint:
    """Where to connect; ``proxied``: send absolute-form targets to ``upstream`` via it."""

    host: str
    port: int
    upstream_port: int
    proxied: bool

    def request(self, body: bytes, extra: dict[str, str]) -> bytes:
        authority = f"127.0.0.1:{self.upstream_port}"
        target = f"http://{authority}{PATH}" if self.proxied else PATH
        lines = [
            f"POST {target} HTTP/1.1",
            f"host: {authority}",
            "content-type: application/json",
            "authorization: Bearer sk-bench-0000000000000000000000000000000000000000",
            f"content-length: {len(body)}",
            *(f"{k}: {v}" for k, v in extra.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def direct(upstream_port: int) -> Endpoint:
    return Endpoint("127.0.0.1", upstream_port, upstream_port, proxied=False)


def via_proxy(proxy_port: int, upstream_port: int) -> Endpoint:
    return Endpoint("127.0.0.1", proxy_port, upstream_port, proxied=True)


@dataclass
class LoadResult:
    """Per-request start times and latencies (seconds, ``time.perf_counter`` clock)."""

    started: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    first_event: list[float] = field(default_factory=list)  # streams: request sent → 1st event
    gaps: list[float] = field(default_factory=list)  # streams: between consecutive events
    tags: list[int] = field(default_factory=list)  # ``tagged`` runs: seq of each completed one
    errors: int = 0
    mismatches: int = 0
    wall: float = 0.0

    @property
    def completed(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.completed / self.wall if self.wall else 0.0


def _stream_bytes(events: int) -> bytes:
    return b"".join(sse_event(k) for k in range(events)) + SSE_DONE


async def _read_head(reader: asyncio.StreamReader) -> dict[str, str]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")
    if len(status) < 2 or status[1] != "200":
        raise ConnectionError(f"status {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return headers


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], on_data: object = None
) -> bytes:
    if "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
        if callable(on_data):
            on_data(data)
        return data
    if headers.get("transfer-encoding", "").lower() != "chunked":
        raise ConnectionError("response without length")
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return b"".join(parts)
        parts.append(chunk[:-2])
        if callable(on_data):
            on_data(chunk[:-2])


async def run_load(
    endpoint: Endpoint,
    *,
    concurrency: int,
    total: int | None = None,
    duration: float | None = None,
    stream: bool = False,
    events: int = 20,
    interval_ms: float = 10.0,
    rate: float | None = None,
    timeout: float = 60.0,
    tagged: bool = False,
    tag_start: int = 0,
    stop: threading.Event | None = None,
) -> LoadResult:
    """Send ``total`` requests (or keep going for ``duration`` seconds, or until ``stop`` is
    set) from ``concurrency`` workers; ``rate`` (requests/s over all workers) paces them.
    ``tagged``: each request carries a unique ``x-bench-seq`` header (counting from
    ``tag_start``), and ``tags`` lists the ones whose response arrived complete."""
    if total is None and duration is None and stop is None:
        raise ValueError("give total, duration or stop")
    body = json.dumps(
        {
            "model": "gpt-4o",
            "stream": stream,
            "messages": [{"role": "user", "content": "benchmark " * 20}],
        }
    ).encode()
    extra = (
        {"x-bench-events": str(events), "x-bench-interval-ms": str(interval_ms)} if stream else {}
    )
    request = endpoint.request(body, extra)
    expected = hashlib.sha256(_stream_bytes(events) if stream else json_body()).digest()
    result = LoadResult()
    tickets = itertools.count()
    seqs = itertools.count(tag_start)
    start = time.perf_counter()
    stop_at = start + duration if duration is not None else None
    per_worker_interval = concurrency / rate if rate else 0.0

    async def worker(index: int) -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        next_at = start + (per_worker_interval * index / concurrency if rate else 0.0)
        while True:
            if total is not None and next(tickets) >= total:
                break
            if stop_at is not None and time.perf_counter() >= stop_at:
                break
            if stop is not None and stop.is_set():
                break
            if rate:
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at += per_worker_interval
            try:
                if conn is None:
                    conn = await asyncio.wait_for(
                        asyncio.open_connection(endpoint.host, endpoint.port), timeout
                    )
                reader, writer = conn
                arrivals: list[float] = []
                pending = bytearray()

                def on_data(
                    data: bytes, arrivals: list[float] = arrivals, pending: bytearray = pending
                ) -> None:
                    pending.extend(data)
                    now = time.perf_counter()
                    while (cut := pending.find(b"\n\n")) >= 0:
                        del pending[: cut + 2]
                        arrivals.append(now)

                seq = next(seqs)
                payload = (
                    endpoint.request(body, {**extra, "x-bench-seq": str(seq)})
                    if tagged
                    else request
                )
                t0 = time.perf_counter()
                writer.write(payload)
                await writer.drain()
                headers = await asyncio.wait_for(_read_head(reader), timeout)
                data = await asyncio.wait_for(
                    _read_body(reader, headers, on_data if stream else None), timeout
                )
                t1 = time.perf_counter()
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    conn = None
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                if conn is not None:
                    conn[1].close()
                conn = None
                await asyncio.sleep(0.05)
                continue
            result.started.append(t0)
            result.latencies.append(t1 - t0)
            if tagged:
                result.tags.append(seq)
            if hashlib.sha256(data).digest() != expected:
                result.mismatches += 1
            if stream and arrivals:
                result.first_event.append(arrivals[0] - t0)
                result.gaps.extend(b - a for a, b in itertools.pairwise(arrivals[:events]))
        if conn is not None:
            conn[1].close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    result.wall = time.perf_counter() - start
    return result


def run(endpoint: Endpoint, **kwargs: object) -> LoadResult:
    """:func:`run_load` from synchronous code (a fresh event loop)."""
    return asyncio.run(run_load(endpoint, **kwargs))  # type: ignore[arg-type]
