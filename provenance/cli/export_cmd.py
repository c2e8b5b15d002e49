"""``provenance export --format jsonl|har``: redacted evidence for sharing or other tools."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from provenance.cli.common import add_db_option
from provenance.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export redacted exchanges as JSON Lines or HAR")
    add_db_option(p)
    p.add_argument("--format", choices=["jsonl", "har"], required=True)
    p.add_argument("--out", metavar="FILE", help="write to FILE (created 0600) instead of stdout")
    p.add_argument("--product", help="only this product")
    p.add_argument("--model", help="only exchanges carrying this exact model id")
    p.add_argument("--since", metavar="T", help="ISO time or age (7d, 12h)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from provenance.paths import create_private_file
    from provenance.redact import Redactor
    from provenance.reporting.exchanges import ExchangeFilter, parse_time
    from provenance.reporting.export import export
    from provenance.store import open_store

    store = open_store(args.db)
    flt = ExchangeFilter(
        product=args.product,
        model=args.model,
        since=parse_time(args.since) if args.since else None,
        limit=None,
    )
    redactor = Redactor.from_data_dir()
    if args.out is None:
        n = export(store, args.format, sys.stdout, flt, redactor)
    else:
        path = Path(args.out).expanduser()
        if not path.parent.is_dir():
            raise UsageError(
                f"--out {path}: the directory {path.parent} does not exist; create it first"
            )
        try:
            create_private_file(path)
            with path.open("w", encoding="utf-8") as fh:
                n = export(store, args.format, fh, flt, redactor)
        except OSError as exc:
            raise UsageError(
                f"cannot write {path}: {exc.strerror}; choose a writable --out"
            ) from exc
    sys.stderr.write(f"exported {n} exchanges as {args.format}\n")
    return 0
