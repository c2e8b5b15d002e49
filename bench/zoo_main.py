"""The command line shared by the zoo benchmarks (``logits_attribution``, ``logits_lineage``).

Each builds tiny models in a work folder, prints its tables, and rewrites the part of a document
between two markers unless told not to.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def main(
    prog: str, run: Callable[[Path, bool], str], doc: Path, markers: tuple[str, str],
    argv: Sequence[str] | None = None, *, quick_help: str = "smaller sizes",
) -> int:  # fmt: skip
    """Parse ``--quick``/``--work``/``--no-write``, run, print, and write ``doc``'s section."""
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--work", type=Path, default=None, help="model folder (default: temp)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave the docs alone")
    args = ap.parse_args(argv)
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-zoo-") as tmp:
        work = args.work or Path(tmp)
        t0 = time.perf_counter()
        text = run(work, args.quick)
        text += f"\nTotal benchmark time {time.perf_counter() - t0:.0f} s (build included).\n"
    print(text)
    begin, end = markers
    if not args.no_write and doc.is_file():
        body = doc.read_text(encoding="utf-8")
        if begin in body and end in body:
            head, rest = body.split(begin, 1)
            _, tail = rest.split(end, 1)
            doc.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")
    return 0
