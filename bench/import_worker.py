"""One import-suite measurement in its own process (so its peak memory is its own).

    python -m bench.import_worker flowreader FILE
    python -m bench.import_worker jsonloads FILE
    python -m bench.import_worker import FILE DB_URL

Prints one JSON line: ``count`` (exchanges), ``seconds`` (wall) and ``cpu_seconds`` (the CPU
time of this process and of the import pool's workers, which have ended by then) of the work
only (imports and interpreter start-up excluded), and
``peak_rss_mib`` (the process's own peak resident set size, ``VmHWM``).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def peak_rss_kib() -> int:
    """This process's peak RSS (``VmHWM``). Not ``ru_maxrss``: Linux carries the parent's peak
    into it across fork+exec, so every child would report at least the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def flowreader(path: Path) -> int:
    from mitmproxy import io

    count = 0
    with path.open("rb") as fo:
        for _ in io.FlowReader(fo).stream():
            count += 1
    return count


def jsonloads(path: Path) -> int:
    doc = json.loads(path.read_bytes())
    return len(doc["log"]["entries"]) if isinstance(doc, dict) else 0


def import_(path: Path, url: str) -> int:
    from provenance.importers.run import import_file
    from provenance.redact import Redactor
    from provenance.store import open_store

    store = open_store(url, create=True)
    try:
        summary = import_file(path, store=store, redactor=Redactor(b"bench-key" * 4))
    finally:
        store.close()
    if summary.error:
        raise SystemExit(f"import failed: {summary.error}")
    return summary.stored


def _cpu() -> float:
    """CPU seconds of this process and its ended children (the import pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    if mode == "flowreader":
        import mitmproxy.io
        import mitmproxy.io.har  # noqa: F401
    elif mode == "import":
        import provenance.extract
        import provenance.importers.run
        import provenance.store  # noqa: F401
    start, cpu_start = time.perf_counter(), _cpu()
    if mode == "flowreader":
        count = flowreader(path)
    elif mode == "jsonloads":
        count = jsonloads(path)
    elif mode == "import":
        count = import_(path, sys.argv[3])
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu_start
    peak = peak_rss_kib() / 1024
    print(
        json.dumps({"count": count, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mib": peak})
    )


if __name__ == "__main__":
    main()
