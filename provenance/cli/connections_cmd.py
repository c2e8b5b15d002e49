"""``provenance connections``: TLS clients seen on the wire, one row per (sni, ja4, client).

Reads the ``connections`` table (filled by ``provenance import CAPTURE.pcap``). ``--format
json`` (or ``--json``) prints ``{"schema": "provenance.connections/1", "connections": [...]}``;
``csv`` and ``jsonl`` the same rows (see :mod:`provenance.cli.output`).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from provenance.cli.common import add_db_option
from provenance.cli.output import Listing, add_format_option, chosen_format, emit

SCHEMA = "provenance.connections/1"
FIELDS = (
    "sni",
    "provider",
    "ja4",
    "ja3",
    "client",
    "alpn",
    "tls_version",
    "first_seen",
    "last_seen",
    "count",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "connections",
        help="TLS connections seen in imported captures (SNI, JA4, client, provider)",
        description=__doc__,
    )
    add_db_option(parser)
    add_format_option(parser)
    parser.add_argument("--sni", default=None, help="only this server name")
    parser.set_defaults(func=run)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def query_connections(store: Any, sni: str | None = None) -> list[dict[str, Any]]:
    """Connections grouped by (sni, ja4, client), most frequent first."""
    from sqlalchemy import func, select

    from provenance.store.models import ConnectionRow

    t = ConnectionRow.__table__
    stmt = select(
        t.c.sni,
        func.max(t.c.provider).label("provider"),
        t.c.ja4,
        func.max(t.c.ja3).label("ja3"),
        t.c.client,
        func.max(t.c.alpn).label("alpn"),
        func.max(t.c.tls_version).label("tls_version"),
        func.min(t.c.first_seen).label("first_seen"),
        func.max(t.c.last_seen).label("last_seen"),
        func.sum(t.c.count).label("count"),
    ).group_by(t.c.sni, t.c.ja4, t.c.client)
    if sni:
        stmt = stmt.where(t.c.sni == sni.lower())
    with store.engine.connect() as connection:
        rows = connection.execute(stmt).mappings().all()
    out = [
        {
            **{k: row[k] for k in FIELDS},
            "first_seen": _iso(row["first_seen"]),
            "last_seen": _iso(row["last_seen"]),
            "count": int(row["count"] or 0),
        }
        for row in rows
    ]
    out.sort(key=lambda r: (-r["count"], r["sni"] or "", r["ja4"] or ""))
    return out


def run(args: argparse.Namespace) -> int:
    from provenance.store import open_store

    fmt = chosen_format(args)
    store = open_store(args.db)
    try:
        rows = query_connections(store, args.sni)
    finally:
        store.close()
    columns = ("SNI", "provider", "JA4", "client", "ALPN", "TLS", "count", "last seen")
    keys = ("sni", "provider", "ja4", "client", "alpn", "tls_version", "count", "last_seen")
    emit(
        Listing(SCHEMA, "connections", "TLS connections", columns, rows,
                lambda r: [r[k] for k in keys]),
        fmt,
    )  # fmt: skip
    return 0
