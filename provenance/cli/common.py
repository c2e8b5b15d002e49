"""Helpers shared by the CLI sub-commands: common options and output in two shapes.

``--json`` output is one JSON document on stdout whose top level carries ``"schema"``
(``provenance.<thing>/<major>``); without ``--json`` a readable rich table goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db URL``: else ``$PROVENANCE_DB``, else the embedded SQLite file in the data dir."""
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="SQLAlchemy database URL or a SQLite file path (default: $PROVENANCE_DB, "
        "else provenance.sqlite in the user data directory)",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json``: machine-readable output with a ``schema`` key."""
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def emit_json(document: dict[str, Any]) -> None:
    """Write one JSON document to stdout. The document must already carry ``schema``."""
    if "schema" not in document:
        raise ValueError("JSON output must carry a schema key")
    json.dump(document, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a readable table (rich) to stdout; ``None`` shows as an em dash."""
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    if not console.is_terminal:  # piped or captured: do not squeeze into 80 columns
        console = Console(soft_wrap=False, width=max(console.width, 200))
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("—" if v is None else str(v) for v in row))
    console.print(table)
