"""List output in the shapes the tools around provenance read: ``--format table|csv|jsonl|json``.

* ``table`` (the default): a Rich table on a terminal; plain aligned text (no box drawing, no
  colour, no title) when stdout is not a terminal or ``NO_COLOR`` is set, so ``grep``, ``awk``
  and ``cut`` work on it;
* ``csv``: a header row and one row per record, every cell spreadsheet-safe
  (:func:`~provenance.display.csv_cell`);
* ``jsonl``: one JSON object per record (the same objects as in ``json``), for ``jq -c``;
* ``json``: one document with its ``schema`` key (what ``--json`` has always printed; ``--json``
  stays as a short form of ``--format json``).

Cells are captured data; each shape escapes them itself (see :mod:`provenance.display`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

FORMATS = ("table", "csv", "jsonl", "json")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """``--format`` and its short form ``--json``."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output shape (default: table; plain text when piped or NO_COLOR is set)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (same as --format json)")


def chosen_format(args: argparse.Namespace) -> str:
    """The output shape asked for; ``--json`` with another ``--format`` is a usage error."""
    from provenance.errors import UsageError

    fmt = getattr(args, "format", None)
    if getattr(args, "json", False):
        if fmt not in (None, "json"):
            raise UsageError(f"--json and --format {fmt} ask for two shapes: give one")
        return "json"
    return fmt or "table"


def wants_plain() -> bool:
    """Plain text instead of a Rich table: stdout is not a terminal, or ``NO_COLOR`` is set."""
    return bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()


@dataclass(frozen=True)
class Listing:
    """One list command's output: the records, and how a table shows them."""

    schema: str
    key: str  # the JSON document's list field ("models", "exchanges" …)
    title: str
    columns: Sequence[str]
    records: list[dict[str, Any]]
    row: Callable[[dict[str, Any]], Sequence[Any]]  # a record's table cells, in column order
    extra: dict[str, Any] | None = None  # more top-level fields of the JSON document


def emit(listing: Listing, fmt: str) -> None:
    """Write ``listing`` to stdout in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        from provenance.cli.common import emit_json

        emit_json({"schema": listing.schema, **(listing.extra or {}), listing.key: listing.records})
    elif fmt == "jsonl":
        for record in listing.records:
            sys.stdout.write(json.dumps(record, default=str) + "\n")
    elif fmt == "csv":
        from provenance.display import csv_cell

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([csv_cell(c) for c in listing.columns])
        for record in listing.records:
            writer.writerow([csv_cell(_joined(v)) for v in listing.row(record)])
    else:
        from provenance.cli.common import print_table

        print_table(listing.title, listing.columns, [listing.row(r) for r in listing.records])


def _joined(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return value
