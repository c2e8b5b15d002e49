"""``make bench``: run the benchmark suites in sequence and write ``docs/benchmarks.md``.

    python -m bench                      # everything (tens of minutes on a small machine)
    python -m bench --only store,proxy   # some suites
    python -m bench --quick              # smoke run of every suite, small sizes
    python -m bench --out FILE           # write elsewhere (default docs/benchmarks.md)
    python -m bench --baseline REV       # also measure revision REV's code, side by side

Environment: ``BENCH_ROWS`` (store suite, default 1,000,000), ``BENCH_IMPORT_ROWS`` (100,000),
``BENCH_REPEATS`` (3), ``BENCH_SOAK_SECONDS`` (60; 1800 for the full 30-minute soak).
Other teams' benchmarks (``bench/tokenizer_matrix.py``, ``bench/logits_*.py``) run afterwards in
their own processes when their modules exist (with ``--quick`` when this run is quick; they
write their own docs); a failure there is reported, not fatal.
A suite that fails is reported in the document with its error; the exit code is 1 then.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import machine
from bench.context import Context
from bench.report import Section, render

ROOT = Path(__file__).resolve().parents[1]
SUITES = {
    "store": "bench.store_bench",
    "import": "bench.import_bench",
    "extract": "bench.extract_bench",
    "proxy": "bench.proxy_bench",
}
EXTERNAL_TIMEOUT_S = 3600


def external_modules() -> list[str]:
    """Other teams' benchmark modules present in this checkout."""
    names = []
    if (ROOT / "bench" / "tokenizer_matrix.py").exists():
        names.append("bench.tokenizer_matrix")
    if (ROOT / "bench" / "tokenizer_boundary.py").exists():
        names.append("bench.tokenizer_boundary")
    names += [f"bench.{p.stem}" for p in sorted((ROOT / "bench").glob("logits_*.py"))]
    if (ROOT / "bench" / "dashboard_gate.py").exists():
        names.append("bench.dashboard_gate")
    if (ROOT / "bench" / "product_channels.py").exists():
        names.append("bench.product_channels")
    return names


def run_external(module: str, *, quick: bool = False) -> Section:
    section = Section(f"`{module}`", intro="Run in its own process by `make bench`.")
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", module, *(["--quick"] if quick else [])],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=EXTERNAL_TIMEOUT_S,
            check=False,
        )
        output = proc.stdout.strip()
        if proc.returncode != 0:
            section.error = f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"
        if output:
            section.intro += "\n\n" + "\n".join(output.splitlines()[-200:])
    except subprocess.TimeoutExpired:
        section.error = f"timed out after {EXTERNAL_TIMEOUT_S} s"
    section.seconds = time.perf_counter() - start
    return section


def _with_baseline(ctx: Context, rev: str, parser: argparse.ArgumentParser) -> Context:
    """``ctx`` with a detached worktree of ``rev`` in its workdir (exits with a usage error
    if git cannot make one)."""
    import dataclasses

    tree = ctx.workdir / "baseline"
    proc = subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), rev],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        parser.error(f"--baseline {rev}: {proc.stderr.strip().splitlines()[-1:]}")
    short = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return dataclasses.replace(ctx, baseline=tree, baseline_rev=short or rev)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated suites: " + ", ".join(SUITES))
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-external", action="store_true", help="skip other teams' suites")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        default="",
        help="a git revision whose extraction, import and proxy are measured beside this tree's",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SUITES)
    unknown = [s for s in only if s not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}")

    described = machine.describe()
    workdir = Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    ctx = Context.from_env(workdir, quick=args.quick)
    if args.baseline:
        ctx = _with_baseline(ctx, args.baseline, parser)
    sections: list[Section] = []
    failed = False
    try:
        for name in only:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            try:
                section = importlib.import_module(SUITES[name]).run(ctx)
            except Exception as exc:
                traceback.print_exc()
                section = Section(name, error=f"{type(exc).__name__}: {exc}"[:500])
                failed = True
            section.seconds = time.perf_counter() - start
            sections.append(section)
            print(f"bench: {name} done in {section.seconds:.0f} s", file=sys.stderr, flush=True)
        if not args.no_external and not args.only:
            for module in external_modules():
                print(f"bench: {module} ...", file=sys.stderr, flush=True)
                sections.append(run_external(module, quick=args.quick))
    finally:
        if ctx.baseline is not None:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(ctx.baseline)],
                cwd=ROOT, capture_output=True, check=False,
            )  # fmt: skip
        shutil.rmtree(workdir, ignore_errors=True)
    command = "python -m bench" + (" --quick" if args.quick else "")
    if args.only:
        command += f" --only {args.only}"
    if args.no_external:
        command += " --no-external"
    if args.baseline:
        command += f" --baseline {args.baseline}"
    text = render(described, sections, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"bench: wrote {args.out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
