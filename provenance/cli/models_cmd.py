"""``provenance models``: which model ids each product was seen using, per provider.

``--format json`` (or ``--json``) prints ``{"schema": "provenance.models/1", "models": [...]}``;
``csv`` and ``jsonl`` the same rows (see :mod:`provenance.cli.output`). Each object has
``product``, ``provider``, ``model_id``, ``family``, ``vendor``, ``sources``, ``requests``,
``first_seen`` and ``last_seen`` (see ``provenance.store.queries.models_table``).
"""

from __future__ import annotations

import argparse

from provenance.cli.common import add_db_option
from provenance.cli.output import Listing, add_format_option, chosen_format, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``models``."""
    parser = sub.add_parser(
        "models", help="list the model ids seen in captured traffic, per product and provider"
    )
    add_db_option(parser)
    parser.add_argument("--product", metavar="NAME", help="only this product")
    add_format_option(parser)
    parser.set_defaults(func=run)


COLUMNS = ("product", "provider", "model id", "family", "vendor", "sources", "requests",
           "first seen", "last seen")  # fmt: skip
KEYS = ("product", "provider", "model_id", "family", "vendor", "sources", "requests",
        "first_seen", "last_seen")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from provenance.store import open_store
    from provenance.store.queries import MODELS_SCHEMA, models_table

    fmt = chosen_format(args)
    with open_store(args.db) as store:
        rows = models_table(store, product=args.product)
    title = f"Models seen ({len(rows)})"
    emit(Listing(MODELS_SCHEMA, "models", title, COLUMNS, rows, _cells), fmt)
    return 0


def _cells(row: dict) -> list:
    return [", ".join(row[k]) if k == "sources" else row[k] for k in KEYS]
