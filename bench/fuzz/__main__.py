"""``make fuzz``: run every atheris harness for a fixed time, each in its own process.

    python -m bench.fuzz --seconds 60              # every harness, 60 s each
    python -m bench.fuzz --seconds 10 --only sse,har
    python -m bench.fuzz --list

Each harness runs under libFuzzer with ``-max_total_time`` (the time), ``-rss_limit_mb`` (memory
bounded: exceeding it is a finding) and ``-timeout`` (one input taking longer is a finding), from
a fresh corpus seeded by the harness's ``SEEDS``. Inputs that fail are saved under
``--artifacts`` (default ``out/fuzz/``) for replay: ``python -m bench.fuzz.fuzz_<name> FILE``.
Prints a Markdown table; exit status 1 when any harness found something.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RSS_LIMIT_MB = 1536
INPUT_TIMEOUT_S = 30


@dataclass
class Outcome:
    name: str
    code: int
    runs: int | None
    coverage: int | None
    corpus: int | None
    seconds: float
    finding: str | None
    artifact: str | None


def harnesses() -> list[str]:
    return sorted(p.stem.removeprefix("fuzz_") for p in HERE.glob("fuzz_*.py"))


def _seeds(name: str) -> list[bytes]:
    """The harness's SEEDS, read in a child process (importing it instruments provenance)."""
    code = (
        "import sys, importlib; m = importlib.import_module(sys.argv[1]); "
        "sys.stdout.buffer.write(b''.join(len(s).to_bytes(4, 'big') + s for s in m.SEEDS))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, f"bench.fuzz.fuzz_{name}"],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=True,
    ).stdout
    seeds, pos = [], 0
    while pos < len(out):
        n = int.from_bytes(out[pos : pos + 4], "big")
        seeds.append(out[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return seeds


def _last_int(pattern: str, text: str) -> int | None:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else None


def run_one(name: str, seconds: int, artifacts: Path) -> Outcome:
    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    try:
        for i, seed in enumerate(_seeds(name)):
            (corpus / f"seed-{i}").write_bytes(seed)
        prefix = artifacts / f"{name}-"
        start = time.monotonic()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                f"bench.fuzz.fuzz_{name}",
                str(corpus),
                f"-max_total_time={seconds}",
                f"-rss_limit_mb={RSS_LIMIT_MB}",
                f"-timeout={INPUT_TIMEOUT_S}",
                f"-artifact_prefix={prefix}",
                "-print_final_stats=1",
                "-close_fd_mask=1",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=seconds + 600,
            check=False,
        )
        elapsed = time.monotonic() - start
        log = proc.stderr
        finding = None
        if proc.returncode != 0:
            match = re.search(
                r"(Uncaught Python exception: .*?\n.*?)(?:\n\n|==\d+==)", log, re.S
            ) or re.search(r"==\d+== ERROR: (.*)", log)
            finding = (match.group(1) if match else log[-1500:]).strip()
        artifact = re.search(r"Test unit written to (\S+)", log)
        return Outcome(
            name=name,
            code=proc.returncode,
            runs=_last_int(r"stat::number_of_executed_units:\s*(\d+)", log)
            or _last_int(r"#(\d+)\s", log),
            coverage=_last_int(r"cov: (\d+)", log),
            corpus=_last_int(r"corp: (\d+)", log),
            seconds=elapsed,
            finding=finding,
            artifact=artifact.group(1) if artifact else None,
        )
    finally:
        shutil.rmtree(corpus, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fuzz", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=int, default=60, help="time per harness (default 60)")
    parser.add_argument("--only", default="", help="comma-separated harness names")
    parser.add_argument("--artifacts", type=Path, default=ROOT / "out" / "fuzz")
    parser.add_argument("--list", action="store_true", help="list the harnesses and exit")
    args = parser.parse_args(argv)
    names = harnesses()
    if args.list:
        print("\n".join(names))
        return 0
    if importlib.util.find_spec("atheris") is None:
        print("error: atheris is not installed: `make fuzz` installs it", file=sys.stderr)
        return 2
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(only) - set(names)
    if unknown:
        parser.error(f"unknown harness(es): {', '.join(sorted(unknown))}")
    args.artifacts.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for name in only or names:
        print(f"fuzz: {name} for {args.seconds} s ...", file=sys.stderr, flush=True)
        outcomes.append(run_one(name, args.seconds, args.artifacts))
    print("| harness | result | inputs run | coverage | corpus | seconds |")
    print("|---|---|---|---|---|---|")
    for o in outcomes:
        result = "ok" if o.code == 0 else f"**finding** (exit {o.code})"
        print(f"| {o.name} | {result} | {o.runs} | {o.coverage} | {o.corpus} | {o.seconds:.0f} |")
    for o in outcomes:
        if o.code != 0:
            print(f"\n### {o.name}\n\nsaved input: `{o.artifact}`\n\n```\n{o.finding}\n```")
    return 1 if any(o.code != 0 for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
