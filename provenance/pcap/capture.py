"""Read a capture file into TLS connections and HTTP exchanges, streaming, never raising.

:func:`iter_capture` walks the file packet by packet (scapy's raw readers, pure-Python
decoding), keeps a bounded table of TCP flows, detects TLS by content on any port, learns names
from DNS answers, and yields :class:`~provenance.pcap.model.TlsConnection` objects (when a
connection ends) and :class:`~provenance.records.RawExchange` objects (as soon as an exchange
is complete). Every packet or connection it cannot use is counted in ``stats.skipped`` with the
reason. :func:`read_capture` collects the same into a :class:`CaptureResult`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from pathlib import Path

from provenance.pcap.dns import DnsNames
from provenance.pcap.exchange import to_raw_exchange
from provenance.pcap.http_common import HttpExchange
from provenance.pcap.model import CaptureResult, CaptureStats, TlsConnection
from provenance.pcap.packets import (
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    Datagram,
    Segment,
    Skip,
    decode_frame,
)
from provenance.pcap.reader import bytes_read, iter_frames, open_capture
from provenance.pcap.tcp import HalfStream
from provenance.pcap.tlsconn import TlsSession, looks_like_client_hello
from provenance.records import RawExchange
from provenance.tls.keylog import KeyLog

Progress = Callable[[int, int], None]
Event = TlsConnection | RawExchange

MAX_FLOWS = 100_000
IDLE_SECONDS = 600.0
_SWEEP_EVERY = 20_000
_UNDECIDED_LIMIT = 64 << 10
_DEDUP_WINDOW = 64


class _Flow:
    __slots__ = (
        "client",
        "closed",
        "fin",
        "first",
        "first_seen",
        "kind",
        "last_seen",
        "server",
        "session",
        "streams",
    )

    def __init__(self, client: tuple[str, int], server: tuple[str, int], ts: float) -> None:
        self.client = client
        self.server = server
        self.streams = (HalfStream(), HalfStream())
        self.first_seen = ts
        self.last_seen = ts
        self.kind: str | None = None  # None undecided, "tls", "other"
        self.session: TlsSession | None = None
        self.first = (bytearray(), bytearray())  # bytes before the protocol is decided
        self.fin = [False, False]
        self.closed = False


class CaptureReader:
    """One pass over one capture. Use :meth:`events`; read :attr:`stats` afterwards."""

    def __init__(
        self,
        path: str | Path,
        keylog: KeyLog | str | Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.path = Path(path)
        if keylog is not None and not isinstance(keylog, KeyLog):
            from provenance.errors import UsageError

            if not Path(keylog).is_file():
                raise UsageError(f"key log file not found: {keylog}")
            keylog = KeyLog.from_file(keylog)
        self.keylog = keylog if keylog is not None else KeyLog()
        self.progress = progress
        self.stats = CaptureStats()
        self.dns = DnsNames()
        self.flows: OrderedDict[tuple, _Flow] = OrderedDict()
        self.closed_keys: OrderedDict[tuple, None] = OrderedDict()
        self.out: list[Event] = []
        self.recent: deque[tuple] = deque(maxlen=_DEDUP_WINDOW)
        self.recent_set: dict[tuple, int] = {}
        self.now = 0.0

    # -- driving ---------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Yield connections and exchanges while reading; never raises after the file opened."""
        reader = open_capture(self.path, self.keylog)
        total = max(os.path.getsize(self.path), 1)
        scapy_log = logging.getLogger("scapy.runtime")
        old_level = scapy_log.level
        scapy_log.setLevel(logging.ERROR)
        try:
            for linktype, ts, frame in iter_frames(reader, self.stats.skip):
                self.stats.packets += 1
                try:
                    self._frame(linktype, ts, frame)
                except Exception as exc:  # a bug must not end the import: count, go on
                    self.stats.skip(f"internal error ({type(exc).__name__})")
                if self.out:
                    yield from self.out
                    self.out.clear()
                if self.stats.packets % 2000 == 0:
                    self._report(reader, total)
                if self.stats.packets % _SWEEP_EVERY == 0:
                    self._sweep(idle_only=True)
                    yield from self.out
                    self.out.clear()
            self._sweep(idle_only=False)
            yield from self.out
            self.out.clear()
            self._report(reader, total, final=True)
        finally:
            scapy_log.setLevel(old_level)
            with contextlib.suppress(Exception):
                reader.close()

    def _report(self, reader, total: int, final: bool = False) -> None:
        done = total if final else min(bytes_read(reader), total)
        self.stats.bytes_read = done
        if self.progress is not None:
            self.progress(done, total)

    # -- packets ---------------------------------------------------------------------------
    def _frame(self, linktype: int, ts: float, frame: bytes) -> None:
        try:
            packet = decode_frame(linktype, frame, ts)
        except Skip as exc:
            self.stats.skip(f"packet: {exc}")
            return
        self.now = max(self.now, ts)
        if isinstance(packet, Datagram):
            if 53 in (packet.sport, packet.dport):
                self.stats.dns_answers += self.dns.add_message(packet.payload)
            else:
                self.stats.skip("packet: UDP (not DNS)")
            return
        if self._duplicate(packet):
            self.stats.duplicates += 1
            return
        self._segment(packet)

    def _duplicate(self, s: Segment) -> bool:
        key = (s.src, s.dst, s.sport, s.dport, s.seq, s.ack, s.flags, hash(s.payload))
        if key in self.recent_set:
            return True
        if len(self.recent) == self.recent.maxlen:
            self.recent_set.pop(self.recent[0], None)
        self.recent.append(key)
        self.recent_set[key] = 1
        return False

    def _segment(self, s: Segment) -> None:
        a, b = (s.src, s.sport), (s.dst, s.dport)
        key = (a, b) if a < b else (b, a)
        flow = self.flows.get(key)
        syn_only = s.flags & TCP_SYN and not s.flags & TCP_ACK
        if flow is not None and syn_only and flow.closed:
            self._finish(key)
            flow = None
        if flow is None:
            if not syn_only and (not s.payload or key in self.closed_keys):
                return
            self.closed_keys.pop(key, None)
            flow = _Flow(a, b, s.ts)
            self.flows[key] = flow
            self.stats.tcp_connections += 1
            if len(self.flows) > MAX_FLOWS:
                self.stats.skip("flow table full (oldest connection ended early)")
                self._finish(next(iter(self.flows)))
        flow.last_seen = max(flow.last_seen, s.ts)
        d = 0 if a == flow.client else 1
        stream = flow.streams[d]
        if s.flags & TCP_SYN:
            stream.syn(s.seq)
        if s.payload and flow.kind != "other" and (flow.session is None or flow.session.wants_data):
            had_gap = stream.gap
            data = stream.add(s.seq, s.payload)
            if stream.gap and not had_gap and flow.session is not None:
                flow.session.gap(d)
            if data:
                self._deliver(flow, d, data, s.ts)
        if s.flags & TCP_RST:
            flow.closed = True
            self._finish(key)
            return
        if s.flags & TCP_FIN:
            flow.fin[d] = True
        if all(flow.fin):
            flow.closed = True
            if not flow.streams[0].pending and not flow.streams[1].pending:
                self._finish(key)

    def _deliver(self, flow: _Flow, d: int, data: bytes, ts: float) -> None:
        if flow.kind == "tls":
            assert flow.session is not None
            flow.session.feed(d, data, ts)
            return
        flow.first[d].extend(data)
        verdict = looks_like_client_hello(bytes(flow.first[d][:6]))
        if verdict is None:
            if len(flow.first[d]) + len(flow.first[1 - d]) > _UNDECIDED_LIMIT:
                self._mark_other(flow)
            return
        if not verdict:
            if d == 0 or len(flow.first[0]) >= 6:
                self._mark_other(flow)
            return
        if d == 1:  # the side we took for the server speaks first with a ClientHello
            flow.client, flow.server = flow.server, flow.client
            flow.streams = (flow.streams[1], flow.streams[0])
            flow.first = (flow.first[1], flow.first[0])
        flow.kind = "tls"
        self.stats.tls_connections += 1
        conn = TlsConnection(
            first_seen=flow.first_seen,
            last_seen=flow.last_seen,
            client_ip=flow.client[0],
            client_port=flow.client[1],
            server_ip=flow.server[0],
            server_port=flow.server[1],
        )
        flow.session = TlsSession(conn, self.keylog, self.stats, self._on_exchange)
        first = flow.first
        flow.first = (bytearray(), bytearray())
        flow.session.feed(0, bytes(first[0]), ts)
        if first[1]:
            flow.session.feed(1, bytes(first[1]), ts)

    def _mark_other(self, flow: _Flow) -> None:
        flow.kind = "other"
        flow.first = (bytearray(), bytearray())
        self.stats.skip("connection: not TLS (by content)")

    def _on_exchange(self, session: TlsSession, exchange: HttpExchange) -> None:
        conn = session.conn
        if conn.sni is None and conn.dns_name is None:
            conn.dns_name = self.dns.name_for(conn.server_ip)
        self.stats.exchanges += 1
        self.out.append(to_raw_exchange(conn, exchange))

    # -- ending flows ----------------------------------------------------------------------
    def _finish(self, key: tuple) -> None:
        flow = self.flows.pop(key, None)
        if flow is None:
            return
        self.closed_keys[key] = None
        if len(self.closed_keys) > MAX_FLOWS:
            self.closed_keys.popitem(last=False)
        session = flow.session
        if session is not None:
            for d, stream in enumerate(flow.streams):
                if stream.pending and session.wants_data:
                    rest = stream.flush()
                    session.gap(d)
                    if rest:
                        session.feed(d, rest, flow.last_seen)
            session.close(flow.last_seen)
            conn = session.conn
            conn.last_seen = flow.last_seen
            if conn.sni is None:
                conn.dns_name = conn.dns_name or self.dns.name_for(conn.server_ip)
            if conn.ja4 is None and not conn.errors:
                self.stats.skip("TLS connection without a complete ClientHello")
            self.out.append(conn)
        elif flow.kind is None and any(flow.first):
            self.stats.skip("connection: too little data to tell the protocol")

    def _sweep(self, idle_only: bool) -> None:
        cutoff = self.now - IDLE_SECONDS
        for key in [k for k, f in self.flows.items() if not idle_only or f.last_seen < cutoff]:
            self._finish(key)


def iter_capture(
    path: str | Path,
    keylog: KeyLog | str | Path | None = None,
    *,
    progress: Progress | None = None,
    stats_out: list[CaptureStats] | None = None,
) -> Iterator[Event]:
    """Stream :class:`TlsConnection` and :class:`RawExchange` objects out of a capture.

    ``keylog``: a :class:`KeyLog`, a path to an NSS key log file, or None (pcapng Decryption
    Secrets Blocks are used either way). ``progress(bytes_done, bytes_total)`` is called as the
    file is read. Append to ``stats_out`` to receive the :class:`CaptureStats` object (it is
    final once the iterator is exhausted). Raises :class:`~provenance.errors.UsageError` only
    for a missing or unreadable file, before the first item.
    """
    reader = CaptureReader(path, keylog, progress)
    if stats_out is not None:
        stats_out.append(reader.stats)
    return reader.events()


def read_capture(
    path: str | Path,
    keylog: KeyLog | str | Path | None = None,
    *,
    progress: Progress | None = None,
) -> CaptureResult:
    """Read a whole capture into memory (for small files and tests): see :func:`iter_capture`."""
    stats: list[CaptureStats] = []
    connections: list[TlsConnection] = []
    exchanges: list[RawExchange] = []
    for event in iter_capture(path, keylog, progress=progress, stats_out=stats):
        if isinstance(event, TlsConnection):
            connections.append(event)
        else:
            exchanges.append(event)
    connections.sort(key=lambda c: (c.first_seen, c.client_port))
    return CaptureResult(connections=connections, exchanges=exchanges, stats=stats[0])
