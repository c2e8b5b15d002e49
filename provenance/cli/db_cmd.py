"""``provenance db upgrade|current|rebuild-rollups``: the store's schema and derived tables.

``db upgrade`` creates the database if it is missing (SQLite file 0600) and migrates it to this
version's schema; it is what ``SchemaOutdatedError`` tells the user to run. ``db current --json``
prints ``{"schema": "provenance.db/1", "url", "current", "head", "up_to_date"}``.
"""

from __future__ import annotations

import argparse
import sys

from provenance.cli.common import add_db_option, add_json_option, emit_json

DB_SCHEMA = "provenance.db/1"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``db`` with ``upgrade`` and ``current``."""
    parser = sub.add_parser("db", help="create or migrate the database schema")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", parser_class=type(parser))

    upgrade = actions.add_parser(
        "upgrade", help="create the database or migrate it to this version"
    )
    add_db_option(upgrade)
    add_json_option(upgrade)
    upgrade.set_defaults(func=run_upgrade)

    current = actions.add_parser("current", help="show the database's schema revision")
    add_db_option(current)
    add_json_option(current)
    current.set_defaults(func=run_current)

    rebuild = actions.add_parser(
        "rebuild-rollups",
        help="recompute the daily rollups from the exchanges (after a bulk load by other means)",
    )
    add_db_option(rebuild)
    rebuild.set_defaults(func=run_rebuild)

    parser.set_defaults(func=lambda _args: (parser.print_help(sys.stderr), 2)[1])


def run_rebuild(args: argparse.Namespace) -> int:
    from provenance.store import open_store, rollups

    store = open_store(args.db)
    with store.engine.begin() as connection:
        rollups.rebuild(connection)
        rollups.analyze(connection)
    print(f"{store.url}: rollups rebuilt")
    return 0


def run_upgrade(args: argparse.Namespace) -> int:
    from provenance.store import migrate
    from provenance.store.engine import make_engine, mask_url, resolve_db_url

    url = resolve_db_url(args.db)
    engine = make_engine(url, create=True)
    try:
        before, after = migrate.upgrade(engine, url)
    finally:
        engine.dispose()
    if args.json:
        emit_json(
            {
                "schema": DB_SCHEMA,
                "url": mask_url(url),
                "before": before,
                "current": after,
                "head": after,
                "up_to_date": True,
            }
        )
    elif before == after:
        print(f"{mask_url(url)}: already at revision {after}")
    else:
        print(f"{mask_url(url)}: upgraded from {before or 'empty'} to {after}")
    return 0


def run_current(args: argparse.Namespace) -> int:
    from provenance.store import migrate
    from provenance.store.engine import make_engine, mask_url, resolve_db_url

    url = resolve_db_url(args.db)
    engine = make_engine(url, create=False)
    try:
        with engine.connect() as connection:
            state = migrate.schema_state(connection)
    finally:
        engine.dispose()
    if args.json:
        emit_json(
            {
                "schema": DB_SCHEMA,
                "url": mask_url(url),
                "current": state.current,
                "head": state.head,
                "up_to_date": state.up_to_date,
            }
        )
    else:
        status = "up to date" if state.up_to_date else "run `provenance db upgrade`"
        print(
            f"{mask_url(url)}: revision {state.current or 'none (empty)'}, "
            f"head {state.head} ({status})"
        )
    return 0
