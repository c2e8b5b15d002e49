"""``provenance fingerprint {tokenizer,passive,logits}``: the probe stages, cheapest first.

Each stage lives in its own package and registers its sub-command here; heavy dependencies are
imported only when that sub-command runs. ``provenance fingerprint runs`` lists the stored runs
of every stage (``--format table|csv|jsonl|json``).
"""

from __future__ import annotations

import argparse
import importlib

STAGES: tuple[str, ...] = (
    "provenance.fingerprint.tokenizer.cli",
    "provenance.fingerprint.logits.cli",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``fingerprint`` and its stages."""
    parser = sub.add_parser("fingerprint", help="probe an endpoint to name its base model")
    stages = parser.add_subparsers(dest="stage", metavar="STAGE", parser_class=type(parser))
    for name in STAGES:
        importlib.import_module(name).register(stages)
    _register_runs(stages)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


RUNS_SCHEMA = "provenance.fingerprint-runs/1"
RUN_COLUMNS = ("id", "when", "kind", "target", "model", "product", "verdict", "method", "requests",
               "channel")  # fmt: skip


def _register_runs(stages: argparse._SubParsersAction) -> None:
    from provenance.cli.common import MAX_LIMIT, add_db_option, int_in
    from provenance.cli.output import add_format_option

    p = stages.add_parser("runs", help="list stored fingerprint runs, newest first")
    add_db_option(p)
    add_format_option(p)
    p.add_argument("--product", help="only runs of this product")
    p.add_argument(
        "--limit", type=int_in(1, MAX_LIMIT), default=200, help="at most this many (default 200)"
    )
    p.set_defaults(func=_list_runs)


def _list_runs(args: argparse.Namespace) -> int:
    from provenance.cli.output import Listing, chosen_format, emit
    from provenance.reporting.runs import channel_text, list_runs
    from provenance.store import open_store

    fmt = chosen_format(args)
    with open_store(args.db) as store:
        rows = list_runs(store, limit=None if args.product else args.limit)
    if args.product:
        rows = [r for r in rows if r["product"] == args.product][: args.limit]
    keys = ("id", "started_at", "kind", "target", "model", "product", "verdict", "method",
            "requests")  # fmt: skip

    def cells(r: dict) -> list:
        return [*(r[k] for k in keys), channel_text(r.get("channel"))]

    title = f"{len(rows)} fingerprint runs (newest first)"
    emit(Listing(RUNS_SCHEMA, "runs", title, RUN_COLUMNS, rows, cells), fmt)
    return 0
