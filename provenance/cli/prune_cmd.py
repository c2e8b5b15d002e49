"""``provenance prune --before T``: retention — delete exchanges older than T."""

from __future__ import annotations

import argparse
import sys

from provenance.cli.common import add_db_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prune", help="delete exchanges started before a time (retention)")
    add_db_option(p)
    p.add_argument("--before", metavar="T", required=True, help="ISO time or age (30d, 12h)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from provenance.reporting.exchanges import parse_time, prune
    from provenance.store import open_store

    before = parse_time(args.before)
    store = open_store(args.db)
    n = prune(store, before)
    sys.stderr.write(f"deleted {n} exchanges started before {before.isoformat()}\n")
    return 0
