"""The audit report in every format, over the seeded store, through the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import stat

from provenance.cli.main import main
from tests.reporting.seed import KIMI


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _by_product(doc: dict) -> dict[str, dict]:
    return {p["product"]: p for p in doc["products"]}


def test_json_report_carries_schema_and_verdicts(seeded_url: str, capsys) -> None:
    code, out, _ = _run(capsys, "report", "--db", seeded_url, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "provenance.report/1"
    products = _by_product(doc)
    assert products["cursor"]["status"] == "identified"
    assert products["cursor"]["family"] == "kimi-k2.5"
    assert products["cursor"]["vendor"] == "moonshot"
    assert products["cursor"]["confidence"] == 0.9
    assert products["copilot"]["family"] == "gpt-4o"
    assert products["mystery"]["status"] == "conflict"
    assert products["mystery"]["family"] is None
    assert products["composer"]["switches"] == [
        {"from": "qwen3", "to": "kimi-k2.5", "at": "2026-03-04T00:00:00Z"}
    ]
    assert products["silent"]["status"] == "unknown"
    models = {(m["product"], m["model_id"]) for m in doc["models"]}
    assert ("copilot", "gpt-4o") in models and ("copilot", "gpt-4o-2024-08-06") in models
    assert doc["fingerprint_runs"][0]["verdict"] == "qwen2"


def test_csv_report_has_one_row_per_product(seeded_url: str, capsys) -> None:
    code, out, _ = _run(capsys, "report", "--db", seeded_url, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["product"] for r in rows) == [
        "composer", "copilot", "cursor", "mystery", "silent",
    ]  # fmt: skip
    cursor = next(r for r in rows if r["product"] == "cursor")
    assert cursor["family"] == "kimi-k2.5" and cursor["confidence"] == "0.900"
    assert KIMI in cursor["reasons"]


def test_markdown_and_html_reports(seeded_url: str, capsys, tmp_path) -> None:
    code, out, _ = _run(capsys, "report", "--db", seeded_url, "--format", "md")
    assert code == 0
    assert "| `cursor` | kimi-k2.5 | — | 90% | identified |" in out
    assert "**Conflict:**" in out
    target = tmp_path / "audit.html"
    code, _, err = _run(
        capsys, "report", "--db", seeded_url, "--format", "html", "--out", str(target)
    )
    assert code == 0 and "wrote html report" in err
    page = target.read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "kimi-k2.5" in page and "class='conflict'" in page
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_report_on_a_missing_database_is_one_clear_line(tmp_path, capsys) -> None:
    code, out, err = _run(capsys, "report", "--db", str(tmp_path / "none.sqlite"))
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_report_on_an_empty_store(sqlite_url: str, capsys) -> None:
    from provenance.store import open_store

    open_store(sqlite_url, create=True).close()
    code, out, _ = _run(capsys, "report", "--db", sqlite_url, "--format", "json")
    assert code == 0
    assert json.loads(out)["products"] == []
