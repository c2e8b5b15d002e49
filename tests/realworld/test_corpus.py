"""The recorded corpus in ``../shared/data/realworld/`` in full (see its README).

* ``realworld.har`` (87 real provider exchanges) imported through the real CLI: every expected
  model id and usage figure of ``expected.tsv`` is found, no other string is stored as a model
  id, every exchange has a provider matching the expected pattern, and none of the planted fake
  keys of ``fake_secrets.tsv`` is in the store file or in either export.
* ``model_ids.tsv`` (668 real ids): at least 98% of the known-family ids resolve to exactly that
  family and none to a different one; unknown-ok rows resolve to ``null`` or a listed family.

Each test fails with the full list of misses, so a regression names its rows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from provenance.catalog import resolve

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "realworld"


def _require_corpus() -> None:
    if (CORPUS / "realworld.har").is_file():
        return
    if os.environ.get("PROVENANCE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"real-world corpus missing: {CORPUS}")
    pytest.skip(f"real-world corpus not present at {CORPUS}")


def _rows(name: str) -> list[list[str]]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Expected:
    idx: str
    started: str  # ISO, unique per entry: the key the rows are matched on
    host: str
    model_ids: frozenset[str]
    in_tokens: str  # "a|b" alternatives, "-" none recorded, "*" not checked
    out_tokens: str
    provider_re: str
    note: str


def _expected() -> list[Expected]:
    out = []
    for idx, started, host, _kind, _status, ids, tin, tout, prov, note in _rows("expected.tsv"):
        found = frozenset() if ids == "-" else frozenset(ids.split(","))
        out.append(Expected(idx, started[:19], host, found, tin, tout, prov, note))
    return out


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provenance", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HAR imported once into a fresh SQLite store (the module's tests read it)."""
    _require_corpus()
    db = tmp_path_factory.mktemp("realworld") / "store.sqlite"
    done = _cli("import", str(CORPUS / "realworld.har"), "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    return db


_USAGE_KEYS = {
    "in": (
        "input_tokens",
        "prompt_tokens",
        "promptTokenCount",
        "inputTokens",
        "inputTextTokenCount",
    ),
    "out": ("output_tokens", "completion_tokens", "candidatesTokenCount", "responseTokenCount"),
}


def _recorded_figures(entry_text: str, direction: str) -> set[int]:
    """Every figure the entry states under a usage key of ``direction``, and per key their sum
    (sessions report usage per turn; the session's row holds the total)."""
    figures: set[int] = set()
    for key in _USAGE_KEYS[direction]:
        values = [int(v) for v in re.findall(rf'{key}\\*"\s*:\s*(\d+)', entry_text)]
        figures.update(values)
        figures.add(sum(values))
    return figures


def _token_ok(spec: str, value: int | None, entry_text: str, direction: str) -> bool:
    if spec == "*":
        return True
    if spec == "-":
        # nothing expected by the corpus' own parsers: a figure we report must be recorded
        return value is None or value in _recorded_figures(entry_text, direction)
    return value is not None and str(value) in spec.split("|")


def _entry_texts() -> dict[str, str]:
    har = json.loads((CORPUS / "realworld.har").read_text(encoding="utf-8"))
    return {e["startedDateTime"][:19]: json.dumps(e) for e in har["log"]["entries"]}


def test_every_expected_id_usage_and_provider(corpus_store: Path) -> None:
    engine = create_engine(f"sqlite:///{corpus_store}")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select e.id, e.started_at, e.input_tokens, e.output_tokens, p.slug "
                "from exchanges e left join providers p on p.id = e.provider_id"
            )
        ).all()
        observed: dict[int, set[str]] = {}
        for exchange_id, model_id in conn.execute(
            text("select exchange_id, model_id from observations")
        ):
            observed.setdefault(exchange_id, set()).add(model_id)
    engine.dispose()
    by_start = {str(r[1])[:19].replace(" ", "T"): r for r in rows}
    entries = _entry_texts()
    expected = _expected()
    assert len(expected) == 87 and len(rows) == 87
    misses = []
    for want in expected:
        row = by_start.get(want.started)
        if row is None:
            misses.append(f"{want.idx} {want.note}: not stored")
            continue
        exchange_id, _, tin, tout, provider = row
        ids = observed.get(exchange_id, set())
        problems = []
        if want.model_ids - ids:
            problems.append(f"missing ids {sorted(want.model_ids - ids)}")
        if ids - want.model_ids:
            problems.append(f"spurious ids {sorted(ids - want.model_ids)}")
        if not _token_ok(want.in_tokens, tin, entries[want.started], "in"):
            problems.append(f"input tokens {tin}, expected {want.in_tokens}")
        if not _token_ok(want.out_tokens, tout, entries[want.started], "out"):
            problems.append(f"output tokens {tout}, expected {want.out_tokens}")
        if provider is None or not re.search(want.provider_re, provider):
            problems.append(f"provider {provider}, expected /{want.provider_re}/")
        if problems:
            misses.append(f"{want.idx} {want.host} ({want.note}): " + "; ".join(problems))
    assert not misses, "\n".join(misses)


def test_no_planted_key_is_stored_or_exported(corpus_store: Path, tmp_path: Path) -> None:
    needles = [(row[0], row[1], row[2]) for row in _rows("fake_secrets.tsv")]
    assert len(needles) >= 100
    places = {"store": corpus_store.read_bytes()}
    for fmt in ("har", "jsonl"):
        out = tmp_path / f"export.{fmt}"
        done = _cli("export", "--db", str(corpus_store), "--format", fmt, "--out", str(out))
        assert done.returncode == 0, done.stderr
        places[fmt] = out.read_bytes()
    leaks = [
        f"fake key {idx} ({where}) in the {place}"
        for idx, where, needle in needles
        for place, data in places.items()
        if needle.encode() in data
    ]
    assert not leaks, "\n".join(leaks)


def test_model_ids_resolve_to_their_family() -> None:
    _require_corpus()
    rows = _rows("model_ids.tsv")
    assert len(rows) >= 600
    known = exact = 0
    wrong, unresolved = [], []
    for model_id, provider, family, _source in (row[:4] for row in rows):
        got = resolve(model_id).family
        if family.startswith("null"):
            allowed = {None, *family.split("|")[1:]}
            if got not in allowed:
                wrong.append(f"{model_id} ({provider}): {got}, acceptable {family}")
            continue
        known += 1
        if got == family:
            exact += 1
        elif got is None:
            unresolved.append(f"{model_id} ({provider}): null, expected {family}")
        else:
            wrong.append(f"{model_id} ({provider}): {got}, expected {family}")
    assert not wrong, "wrong family:\n" + "\n".join(wrong)
    assert exact >= 0.98 * known, f"{exact}/{known} exact; unresolved:\n" + "\n".join(unresolved)
