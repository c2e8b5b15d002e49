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


def int_in(low: int, high: int) -> Any:
    """An argparse ``type`` for an integer in ``[low, high]``; anything else is a usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {low} to {high}")
        return value

    parse.__name__ = "integer"
    return parse


def float_in(low: float, high: float) -> Any:
    """An argparse ``type`` for a number in ``[low, high]`` (no NaN, no infinity)."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:  # NaN fails both comparisons
            raise argparse.ArgumentTypeError(f"{text.strip()} is out of range: use {low} to {high}")
        return value

    parse.__name__ = "number"
    return parse


def ensure_store(db: str | None) -> None:
    """Open (creating) the store and close it again, so that a bad ``--db`` fails before a
    command spends anything (an endpoint's request budget, a reference model's load)."""
    from provenance.store import open_store

    open_store(db, create=True).close()


#: Bounds for common options (ids fit SQL's BIGINT; ports fit TCP/UDP).
MAX_ID = 2**63 - 1
MAX_LIMIT = 10_000_000
port_number = int_in(0, 65535)
timeout_seconds = float_in(0.1, 86_400.0)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db URL``: else ``$PROVENANCE_DB``, else the embedded SQLite file in the data dir."""
    parser.add_argument(
        "--db",
        metavar="URL",
        default=None,
        help="SQLAlchemy database URL or a SQLite file path (default: $PROVENANCE_DB, "
        "else provenance.sqlite in the user data directory)",
    )


def add_allow_host_option(parser: argparse.ArgumentParser) -> None:
    """``--allow-host NAME`` (repeatable): a name a server answers besides its address."""
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name (repeatable); IP addresses and localhost "
        "always work, any other Host is refused (DNS rebinding)",
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
    """Print a table to stdout: a Rich table on a terminal, plain aligned text (no box drawing,
    no colour, no title) into a pipe or when ``NO_COLOR`` is set; ``None`` shows as an em dash
    (``-`` in plain text).

    Cells are captured data: they are shown literally (no Rich markup, no escape sequence, one
    line each; see :mod:`provenance.display.terminal`).
    """
    from provenance.cli.output import wants_plain

    if wants_plain():
        from provenance.display.terminal import plain_table

        sys.stdout.write(plain_table(columns, rows))
        return
    from rich.console import Console

    from provenance.display.terminal import table

    Console(soft_wrap=False).print(table(title, columns, rows))
