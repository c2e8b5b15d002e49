"""What reading a capture produces: TLS connections, exchanges (``RawExchange``), skip counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from provenance.records import RawExchange


def utc(ts: float) -> datetime:
    """Capture seconds → aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=UTC)


@dataclass(slots=True)
class TlsConnection:
    """One TLS connection seen in a capture (metadata from the cleartext handshake).

    ``alpn`` is the protocol the server selected when visible (TLS 1.2 ServerHello, or TLS 1.3
    EncryptedExtensions after decryption), else the first one the client offered.
    ``host`` is the SNI, else a DNS name that resolved to the server address (``dns_name``).
    ``decryption`` is ``"decrypted"``, or why not (``"no key log"``, ``"no key for this
    connection"``, ``"unsupported cipher suite 0x...."``, ``"decryption failed"``...).
    """

    first_seen: float
    last_seen: float
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    sni: str | None = None
    dns_name: str | None = None
    alpn_offered: tuple[str, ...] = ()
    alpn_selected: str | None = None
    tls_version: str | None = None
    cipher_suite: int | None = None
    ja4: str | None = None
    ja4_r: str | None = None
    ja4_o: str | None = None
    ja4_ro: str | None = None
    ja3: str | None = None
    ja3_string: str | None = None
    hellos: list[dict[str, str]] = field(default_factory=list)  # every ClientHello's JA4 set
    decryption: str = "no key log"
    exchanges: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def host(self) -> str | None:
        return self.sni or self.dns_name

    @property
    def alpn(self) -> str | None:
        return self.alpn_selected or (self.alpn_offered[0] if self.alpn_offered else None)

    @property
    def first_seen_at(self) -> datetime:
        return utc(self.first_seen)

    @property
    def last_seen_at(self) -> datetime:
        return utc(self.last_seen)


@dataclass(slots=True)
class CaptureStats:
    """Counters for a read: packets, connections and every skip with its reason."""

    packets: int = 0
    duplicates: int = 0
    tcp_connections: int = 0
    tls_connections: int = 0
    decrypted_connections: int = 0
    exchanges: int = 0
    dns_answers: int = 0
    bytes_read: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n

    def as_dict(self) -> dict[str, object]:
        return {
            "packets": self.packets,
            "duplicates": self.duplicates,
            "tcp_connections": self.tcp_connections,
            "tls_connections": self.tls_connections,
            "decrypted_connections": self.decrypted_connections,
            "exchanges": self.exchanges,
            "dns_answers": self.dns_answers,
            "skipped": dict(sorted(self.skipped.items())),
        }


@dataclass(slots=True)
class CaptureResult:
    """Everything :func:`provenance.pcap.read_capture` found (for small captures and tests;
    large ones stream through :func:`provenance.pcap.iter_capture`)."""

    connections: list[TlsConnection]
    exchanges: list[RawExchange]
    stats: CaptureStats
