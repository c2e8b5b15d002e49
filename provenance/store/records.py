"""Records the store persists besides exchanges: fingerprint runs and TLS connections.

Callers build these plain dataclasses and hand them to :meth:`Store.save_fingerprint_run` and
:meth:`Store.save_connections`; they never touch the ORM. Times are timezone-aware UTC (a naive
datetime is taken as UTC). Nothing here may hold a secret: ``target`` is a redacted URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FINGERPRINT_KINDS = ("tokenizer", "tokenizer-passive", "tokenizer-boundary", "logits")


@dataclass(slots=True)
class FingerprintRunRecord:
    """One ``provenance fingerprint ...`` run and its outcome (``fingerprint_runs`` row).

    ``kind`` is one of :data:`FINGERPRINT_KINDS`. ``model`` is the model name the run requested
    from the endpoint; ``family`` the family the run concluded (None when undecided); ``verdict``
    a short outcome word chosen by the stage (e.g. ``"match"``, ``"mismatch"``, ``"inconclusive"``);
    ``method`` names the statistic/test used; ``requests`` the number of API requests sent;
    ``result`` the run's full ``--json`` document.
    """

    kind: str
    started_at: datetime
    target: str
    model: str | None
    method: str
    requests: int
    result: dict[str, Any] = field(default_factory=dict)
    product: str | None = None
    verdict: str | None = None
    family: str | None = None


@dataclass(slots=True)
class ConnectionRecord:
    """One TLS client connection seen on the wire (``connections`` row; pcap/JA4, issue 7).

    Rows are merged on (``sni``, ``ja4``, ``client``, ``dst_ip``, ``dst_port``): a repeat adds its
    ``count``, widens ``first_seen``/``last_seen`` and fills fields that were unknown.
    ``client`` is the client name a JA4 catalog entry gave (None if unknown); ``provider`` the
    provider slug of the SNI host.
    """

    first_seen: datetime
    last_seen: datetime
    src_ip: str | None = None
    src_port: int | None = None
    dst_ip: str | None = None
    dst_port: int | None = None
    sni: str | None = None
    alpn: str | None = None
    tls_version: str | None = None
    ja4: str | None = None
    ja3: str | None = None
    client: str | None = None
    provider: str | None = None
    count: int = 1
    origin: str = "pcap"
