"""``provenance exchanges [show ID]``: list stored exchanges, or print one (redacted)."""

from __future__ import annotations

import argparse
import json
import sys

from provenance.cli.common import MAX_ID, MAX_LIMIT, add_db_option, emit_json, int_in
from provenance.cli.output import Listing, add_format_option, chosen_format, emit
from provenance.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exchanges", help="list stored exchanges; `exchanges show ID` prints one")
    add_db_option(p)
    add_format_option(p)
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("id", nargs="?", type=int_in(1, MAX_ID), help="exchange id (for show)")
    p.add_argument("--product", help="only this product")
    p.add_argument("--model", help="only exchanges carrying this exact model id")
    p.add_argument("--provider", help="only this provider slug")
    p.add_argument("--since", metavar="T", help="ISO time or age (7d, 12h)")
    p.add_argument(
        "--limit", type=int_in(1, MAX_LIMIT), default=100, help="at most this many (default 100)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from provenance.reporting.exchanges import (
        ExchangeFilter,
        get_exchange,
        list_exchanges,
        parse_time,
    )
    from provenance.store import open_store

    fmt = chosen_format(args)
    store = open_store(args.db)
    if args.action == "show":
        if args.id is None:
            raise UsageError("`exchanges show` needs an exchange id, e.g. `exchanges show 42`")
        doc = get_exchange(store, args.id)
        if doc is None:
            raise UsageError(f"no exchange with id {args.id} in {store.url}")
        if fmt != "table":
            emit_json({"schema": "provenance.exchange/1", **doc})
        else:
            json.dump(doc, sys.stdout, indent=2, default=str)
            sys.stdout.write("\n")
        return 0
    flt = ExchangeFilter(
        product=args.product,
        model=args.model,
        provider=args.provider,
        since=parse_time(args.since) if args.since else None,
        limit=args.limit,
    )
    rows = list_exchanges(store, flt)
    emit(
        Listing("provenance.exchanges/1", "exchanges", f"{len(rows)} exchanges (newest first)",
                COLUMNS, rows, _cells),
        fmt,
    )  # fmt: skip
    return 0


COLUMNS = ("id", "time", "product", "provider", "method", "host", "path", "status", "models",
           "in/out")  # fmt: skip


def _cells(r: dict) -> list:
    return [
        r["id"],
        r["started_at"],
        r["product"],
        r["provider"],
        r["method"],
        r["host"],
        r["path"][:60],
        r["status"],
        ", ".join(r["models"]),
        f"{r['input_tokens'] or '—'}/{r['output_tokens'] or '—'}",
    ]
