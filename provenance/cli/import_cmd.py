"""``provenance import PATH…``: HAR files, mitmproxy flow files and pcaps into the store.

Files are recognised by content. Every exchange goes through the same extraction and redaction
as live capture. Prints a summary per file (read, stored, skipped and why); ``--json`` prints a
``provenance.import/1`` document instead. A file that cannot be opened or recognised stops the
command before anything is stored (exit 2); a file malformed part-way keeps what was read before
the fault, says so in one line, and the command exits 2 after the other files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from provenance.capture.options import DEFAULT_MAX_BODY, parse_max_body
from provenance.cli.common import add_db_option, add_json_option, emit_json, print_table
from provenance.errors import UsageError

PROGRESS_MIN_BYTES = 8 * 1024 * 1024  # show a progress bar for files at least this large


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import HAR, mitmproxy flow or pcap files",
        description="Import recorded traffic (HAR, mitmproxy flow files, pcap/pcapng with "
        "--keylog) with the same extraction and redaction as live capture.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_db_option(parser)
    parser.add_argument(
        "--product",
        default=None,
        metavar="NAME",
        help="product name for every imported exchange (override)",
    )
    parser.add_argument("--no-bodies", action="store_true", help="store no bodies at all")
    parser.add_argument(
        "--max-body",
        default=str(DEFAULT_MAX_BODY),
        metavar="BYTES",
        help="body cap; beyond it only a digest is kept",
    )
    parser.add_argument(
        "--keylog",
        type=Path,
        default=None,
        metavar="FILE",
        help="TLS key log (SSLKEYLOGFILE format) to decrypt pcap files",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="processes that extract and redact HAR/flow exchanges (default: one per core, "
        "at most 4, for files of 8 MiB or more, none on one core; 0: this process only)",
    )
    add_json_option(parser)
    parser.set_defaults(func=run)


@contextmanager
def _progress(path: Path, enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=None,
    ) as bar:
        task = bar.add_task(path.name, total=path.stat().st_size)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def run(args: argparse.Namespace) -> int:
    from provenance.importers.run import ImportOptions, ImportSummary, import_file
    from provenance.redact import Redactor
    from provenance.store import open_store, resolve_db_url

    for path in args.paths:  # fail before storing anything
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
    if args.keylog is not None and not args.keylog.is_file():
        raise UsageError(f"{args.keylog}: no such key log file")
    if args.jobs is not None and not 0 <= args.jobs <= 64:
        raise UsageError(f"invalid --jobs {args.jobs}: use 0-64 (0: extract in this process)")
    options = ImportOptions(
        keep_bodies=not args.no_bodies,
        max_body=parse_max_body(args.max_body),
        product=(args.product or "").strip() or None,
        keylog=args.keylog,
        workers=args.jobs,
    )
    store = open_store(resolve_db_url(args.db), create=True)
    redactor = Redactor.from_data_dir()
    summaries: list[ImportSummary] = []
    try:
        for path in args.paths:
            show = (
                sys.stderr.isatty() and not args.json and path.stat().st_size >= PROGRESS_MIN_BYTES
            )
            with _progress(path, show) as progress:
                summary = import_file(
                    path, store=store, redactor=redactor, options=options, progress=progress
                )
            summaries.append(summary)
            if summary.error:
                sys.stderr.write(
                    f"error: {path}: {summary.error}; the {summary.stored} exchange(s) read "
                    "before it were stored\n"
                )
    finally:
        store.close()
    failed = any(s.error for s in summaries)
    if args.json:
        emit_json(
            {
                "schema": "provenance.import/1",
                "store": store.url,
                "files": [s.as_dict() for s in summaries],
                "read": sum(s.read for s in summaries),
                "stored": sum(s.stored for s in summaries),
                "skipped": sum(sum(s.skipped.values()) for s in summaries),
                "ok": not failed,
            }
        )
    else:
        rows = []
        for s in summaries:
            why = "; ".join(f"{n} {reason}" for reason, n in sorted(s.skipped.items())) or None
            rows.append((s.path, s.kind, s.read, s.stored, sum(s.skipped.values()), why))
        print_table(
            f"import into {store.url}", ("file", "kind", "read", "stored", "skipped", "why"), rows
        )
    return 2 if failed else 0
