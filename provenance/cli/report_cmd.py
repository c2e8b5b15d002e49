"""``provenance report``: the verdicts with their evidence as a shareable audit report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from provenance.cli.common import add_db_option
from provenance.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    from provenance.reporting.report import FORMATS

    p = sub.add_parser("report", help="write the audit report (verdicts and their evidence)")
    add_db_option(p)
    p.add_argument("--format", choices=FORMATS, default="md", help="report format (default: md)")
    p.add_argument("--out", metavar="FILE", help="write to FILE (created 0600) instead of stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from provenance.paths import create_private_file
    from provenance.reporting.report import build_report, render
    from provenance.store import open_store

    store = open_store(args.db)
    text = render(build_report(store), args.format)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    path = Path(args.out).expanduser()
    if not path.parent.is_dir():
        raise UsageError(
            f"--out {path}: the directory {path.parent} does not exist; create it first"
        )
    try:
        create_private_file(path)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}; choose a writable --out") from exc
    sys.stderr.write(f"wrote {args.format} report to {path}\n")
    return 0
