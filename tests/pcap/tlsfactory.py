"""Real TLS sessions made in-process, and packet captures built from their bytes.

``TlsPair`` runs Python's ``ssl`` client and server over memory BIOs (no sockets), with the
client's ``keylog_filename`` set, and records every byte each side put on the wire in order.
``write_capture`` turns such a conversation into a pcap of scapy-crafted TCP packets, with
options to cut segments small, reorder and duplicate them — the deterministic path for the
split/reorder cases (the live-sniff tests cover the real network stack).
"""

from __future__ import annotations

import contextlib
import random
import ssl
from dataclasses import dataclass, field
from pathlib import Path

SNI = "api.fireworks.ai"
MODEL = "accounts/anysphere/models/kimi-k2p5-rl-0317-s515-fast"


def make_certificate(
    directory: Path, hosts: tuple[str, ...] = (SNI, "localhost")
) -> tuple[Path, Path]:
    """A self-signed certificate for ``hosts`` (and 127.0.0.1); returns (cert, key) paths."""
    from provenance.standins.provider import self_signed_cert

    return self_signed_cert(directory, "127.0.0.1", names=hosts, common_name=hosts[0], stem="")


def server_context(
    cert: Path, key: Path, *, alpn: tuple[str, ...] = (), ciphers: str | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if ciphers:
        ctx.set_ciphers(ciphers)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def client_context(
    cert: Path,
    keylog: Path | None,
    *,
    version: ssl.TLSVersion | None = None,
    ciphers: str | None = None,
    alpn: tuple[str, ...] = (),
    check_hostname: bool = True,
) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = check_hostname
    if keylog is not None:
        ctx.keylog_filename = str(keylog)
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if ciphers:
        ctx.set_ciphers(ciphers)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


@dataclass
class TlsPair:
    """An in-memory TLS client/server pair; ``wire`` is [(direction, bytes)], 0 = client→server."""

    client_ctx: ssl.SSLContext
    server_ctx: ssl.SSLContext
    sni: str | None = SNI
    wire: list[tuple[int, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.c_in, self.c_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.s_in, self.s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.client = self.client_ctx.wrap_bio(self.c_in, self.c_out, server_hostname=self.sni)
        self.server = self.server_ctx.wrap_bio(self.s_in, self.s_out, server_side=True)

    def pump(self) -> None:
        moved = True
        while moved:
            moved = False
            data = self.c_out.read()
            if data:
                self.wire.append((0, data))
                self.s_in.write(data)
                moved = True
            data = self.s_out.read()
            if data:
                self.wire.append((1, data))
                self.c_in.write(data)
                moved = True

    def handshake(self) -> None:
        done = [False, False]
        for _ in range(50):
            for i, side in enumerate((self.client, self.server)):
                if not done[i]:
                    try:
                        side.do_handshake()
                        done[i] = True
                    except ssl.SSLWantReadError:
                        pass
            self.pump()
            if all(done):
                # let TLS 1.3 session tickets flow before any data
                self.exchange_reads()
                return
        raise RuntimeError("handshake did not finish")

    def exchange_reads(self) -> None:
        for side in (self.client, self.server):
            with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                side.read(0)
        self.pump()

    def send(self, side: int, data: bytes, record_size: int | None = None) -> None:
        """Write ``data`` from side 0 (client) or 1 (server); ``record_size`` cuts it into
        several TLS records."""
        obj = self.client if side == 0 else self.server
        step = record_size or len(data) or 1
        for i in range(0, len(data), step):
            obj.write(data[i : i + step])
        self.pump()

    def recv(self, side: int) -> bytes:
        obj = self.client if side == 0 else self.server
        out = bytearray()
        while True:
            try:
                chunk = obj.read(65536)
            except ssl.SSLWantReadError:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def version(self) -> str | None:
        return self.client.version()


@dataclass
class Layout:
    """How to cut and shuffle the TCP segments of a synthesized capture."""

    mss: int = 1400
    reorder: bool = False
    duplicate: bool = False  # every packet twice, like a loopback capture
    retransmit: bool = False  # some segments sent again later
    seed: int = 7


def write_capture(
    path: Path,
    wire: list[tuple[int, bytes]],
    *,
    client: tuple[str, int] = ("10.0.0.2", 51000),
    server: tuple[str, int] = ("10.0.0.1", 443),
    layout: Layout | None = None,
    dns: tuple[str, str] | None = None,
    extra_packets: list | None = None,
    start: float = 1_700_000_000.0,
    pcapng: bool = False,
    keylog_text: str | None = None,
) -> Path:
    """Write a capture of one TCP connection carrying ``wire`` (plus an optional DNS answer
    ``(name, address)`` first). Returns ``path``."""
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap, wrpcapng

    layout = layout or Layout()
    rng = random.Random(layout.seed)
    packets = []
    ts = start

    def add(pkt) -> None:
        nonlocal ts
        pkt.time = ts
        ts += 0.001
        packets.append(pkt)

    if dns is not None:
        add(
            Ether()
            / IP(src="10.0.0.53", dst=client[0])
            / UDP(sport=53, dport=40000)
            / DNS(id=1, qr=1, qd=DNSQR(qname=dns[0]), an=DNSRR(rrname=dns[0], rdata=dns[1]))
        )
    ends = (client, server)
    isn = [1_000_000, 4_294_960_000]  # the server's wraps around 2**32 during the session
    seq = [isn[0] + 1, isn[1] + 1]

    def tcp(d: int, flags: str, payload: bytes = b"", seq_no: int | None = None):
        src, dst = ends[d], ends[1 - d]
        s = seq[d] if seq_no is None else seq_no
        return (
            Ether()
            / IP(src=src[0], dst=dst[0])
            / TCP(sport=src[1], dport=dst[1], flags=flags, seq=s % 2**32, ack=seq[1 - d] % 2**32)
            / payload
        )

    add(tcp(0, "S", seq_no=isn[0]))
    add(tcp(1, "SA", seq_no=isn[1]))
    add(tcp(0, "A"))
    data_packets = []
    for d, chunk in wire:
        for i in range(0, len(chunk), layout.mss):
            piece = chunk[i : i + layout.mss]
            data_packets.append(tcp(d, "PA", piece))
            seq[d] += len(piece)
    if layout.reorder:
        # swap neighbours within each direction's run, keeping the handshake order across sides
        for i in range(0, len(data_packets) - 1, 2):
            a, b = data_packets[i], data_packets[i + 1]
            if a[IP].src == b[IP].src:
                data_packets[i], data_packets[i + 1] = b, a
    for pkt in data_packets:
        add(pkt)
        if layout.duplicate:
            add(pkt.copy())
        if layout.retransmit and rng.random() < 0.2:
            add(pkt.copy())
    add(tcp(0, "FA"))
    seq[0] += 1
    add(tcp(1, "FA"))
    seq[1] += 1
    add(tcp(0, "A"))
    for pkt in extra_packets or []:
        add(pkt)
    if pcapng:
        wrpcapng(str(path), packets)
        if keylog_text is not None:
            _inject_dsb(path, keylog_text)
    else:
        wrpcap(str(path), packets)
    return path


def _inject_dsb(path: Path, keylog_text: str) -> None:
    """Insert a Decryption Secrets Block (TLS key log) right after the section header."""
    import struct

    data = path.read_bytes()
    shb_len = struct.unpack_from("<I", data, 4)[0]
    secrets = keylog_text.encode()
    padded = secrets + b"\x00" * (-len(secrets) % 4)
    body = struct.pack("<II", 0x544C534B, len(secrets)) + padded
    block_len = 12 + len(body)
    block = struct.pack("<II", 0x0000000A, block_len) + body + struct.pack("<I", block_len)
    path.write_bytes(data[:shb_len] + block + data[shb_len:])
