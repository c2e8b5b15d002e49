"""``provenance models``: which model ids each product was seen using, per provider.

``--json`` prints ``{"schema": "provenance.models/1", "models": [...]}``; each object has
``product``, ``provider``, ``model_id``, ``family``, ``vendor``, ``sources``, ``requests``,
``first_seen`` and ``last_seen`` (see ``provenance.store.queries.models_table``).
"""

from __future__ import annotations

import argparse

from provenance.cli.common import add_db_option, add_json_option, emit_json, print_table


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``models``."""
    parser = sub.add_parser(
        "models", help="list the model ids seen in captured traffic, per product and provider"
    )
    add_db_option(parser)
    parser.add_argument("--product", metavar="NAME", help="only this product")
    add_json_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from provenance.store import open_store
    from provenance.store.queries import MODELS_SCHEMA, models_table

    with open_store(args.db) as store:
        rows = models_table(store, product=args.product)
    if args.json:
        emit_json({"schema": MODELS_SCHEMA, "models": rows})
        return 0
    print_table(
        f"Models seen ({len(rows)})",
        [
            "product",
            "provider",
            "model id",
            "family",
            "vendor",
            "sources",
            "requests",
            "first seen",
            "last seen",
        ],
        (
            [
                r["product"],
                r["provider"],
                r["model_id"],
                r["family"],
                r["vendor"],
                ", ".join(r["sources"]),
                r["requests"],
                r["first_seen"],
                r["last_seen"],
            ]
            for r in rows
        ),
    )
    return 0
