"""Settings shared by the benchmark suites (from the command line and environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass(frozen=True)
class Context:
    """``rows``: exchanges in the store suite (``BENCH_ROWS``, default 1,000,000);
    ``import_rows``: exchanges per imported file (``BENCH_IMPORT_ROWS``, 100,000);
    ``repeats``: interleaved repeats of each measurement (``BENCH_REPEATS``, 3);
    ``soak_seconds``: the proxy soak (``BENCH_SOAK_SECONDS``, 60; 1800 for the full soak);
    ``workdir``: scratch space (databases, generated files), deleted afterwards;
    ``baseline``: a checkout of an earlier revision (``--baseline REV``) whose code the
    extraction, import and proxy suites measure beside this one, in the same run, and
    ``baseline_rev`` its name."""

    workdir: Path
    rows: int = 1_000_000
    import_rows: int = 100_000
    repeats: int = 3
    soak_seconds: int = 60
    quick: bool = False
    baseline: Path | None = None
    baseline_rev: str = ""

    def before(self, label: str) -> str:
        """``label`` for the baseline's row, e.g. ``provenance import, HAR (before: 0e03dcb)``."""
        return f"{label} (before: {self.baseline_rev})"

    @classmethod
    def from_env(cls, workdir: Path, *, quick: bool = False) -> Context:
        if quick:  # a smoke run of every suite in a couple of minutes (numbers not meaningful)
            return cls(
                workdir=workdir,
                rows=env_int("BENCH_ROWS", 20_000),
                import_rows=env_int("BENCH_IMPORT_ROWS", 2_000),
                repeats=env_int("BENCH_REPEATS", 1),
                soak_seconds=env_int("BENCH_SOAK_SECONDS", 10),
                quick=True,
            )
        return cls(
            workdir=workdir,
            rows=env_int("BENCH_ROWS", 1_000_000),
            import_rows=env_int("BENCH_IMPORT_ROWS", 100_000),
            repeats=env_int("BENCH_REPEATS", 3),
            soak_seconds=env_int("BENCH_SOAK_SECONDS", 60),
        )
