"""The audit report: every product's verdict with its evidence, in md, json, csv or html.

The JSON form is the source of the others: ``build_report`` assembles it from the store, and each
renderer only lays it out. JSON carries ``"schema": "provenance.report/1"``; CSV has one row per
product; Markdown and HTML are for people (HTML is one self-contained file, no scripts).
"""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime
from typing import Any

from provenance import __version__

SCHEMA = "provenance.report/1"
FORMATS = ("md", "json", "csv", "html")
CSV_COLUMNS = (
    "product",
    "status",
    "family",
    "vendor",
    "reference",
    "confidence",
    "evidence_kinds",
    "exchanges",
    "first_seen",
    "last_seen",
    "reasons",
    "conflicts",
    "switches",
)


def build_report(store: Any) -> dict[str, Any]:
    """The report document: verdicts, observed model ids and fingerprint runs."""
    from provenance.reporting.runs import list_runs
    from provenance.store.queries import models_table
    from provenance.verdicts.collect import verdicts

    return {
        "schema": SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "generator": f"provenance {__version__}",
        "store": str(store.url),
        "products": [v.to_json() for v in verdicts(store)],
        "models": models_table(store),
        "fingerprint_runs": list_runs(store),
    }


def render(report: dict[str, Any], fmt: str) -> str:
    """``report`` laid out as ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        import json

        return json.dumps(report, indent=2, default=str) + "\n"
    if fmt == "csv":
        return _csv(report)
    if fmt == "md":
        return _markdown(report)
    if fmt == "html":
        return _html(report)
    raise ValueError(f"unknown report format {fmt!r}")


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _switches(product: dict[str, Any]) -> str:
    return "; ".join(f"{s['from']} → {s['to']} on {s['at'][:10]}" for s in product["switches"])


def _csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in report["products"]:
        writer.writerow(
            [
                p["product"],
                p["status"],
                p["family"] or "",
                p["vendor"] or "",
                p["reference"] or "",
                f"{p['confidence']:.3f}",
                " ".join(p["evidence_kinds"]),
                p["exchanges"],
                p["first_seen"] or "",
                p["last_seen"] or "",
                " | ".join(p["reasons"]),
                " | ".join(p["conflicts"]),
                _switches(p),
            ]
        )
    return buf.getvalue()


def _md_cell(value: Any) -> str:
    return "—" if value in (None, "") else str(value).replace("|", "\\|").replace("\n", " ")


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Base-model audit",
        "",
        f"Generated {report['generated_at']} by {report['generator']} from `{report['store']}`.",
        "",
        "| Product | Base model | Confidence | Status | Evidence | Exchanges | First seen "
        "| Last seen |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in report["products"]:
        base = p["family"] or "—"
        if p["reference"]:
            base += f" (reference `{p['reference']}`)"
        lines.append(
            "| "
            + " | ".join(
                _md_cell(v)
                for v in (
                    p["product"],
                    base,
                    _pct(p["confidence"]),
                    p["status"],
                    ", ".join(p["evidence_kinds"]),
                    p["exchanges"],
                    p["first_seen"],
                    p["last_seen"],
                )
            )
            + " |"
        )
    for p in report["products"]:
        lines += ["", f"## {p['product']}", ""]
        lines += [f"- {r}" for r in p["reasons"]] or ["- no evidence"]
        if p["conflicts"]:
            lines += ["", "**Conflict:**", ""] + [f"- {c}" for c in p["conflicts"]]
        if p["switches"]:
            lines += ["", f"**Switches:** {_switches(p)}"]
    if report["models"]:
        lines += ["", "## Observed model ids", ""]
        lines += [
            "| Product | Provider | Model id | Family | Requests | Last seen |",
            "|---|---|---|---|---|---|",
        ]
        for m in report["models"]:
            lines.append(
                "| "
                + " | ".join(
                    _md_cell(m.get(k))
                    for k in ("product", "provider", "model_id", "family", "requests", "last_seen")
                )
                + " |"
            )
    return "\n".join(lines) + "\n"


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2430}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border-bottom:1px solid #dde;
padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f3f5f9}
.identified{color:#11703a}.conflict{color:#b3261e}.unknown,.no-evidence{color:#777}
code{background:#f3f5f9;padding:0 .2rem;border-radius:3px}
"""


def _html(report: dict[str, Any]) -> str:
    e = html.escape
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>Base-model audit</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Base-model audit</h1>",
        f"<p>Generated {e(report['generated_at'])} by {e(report['generator'])} "
        f"from <code>{e(report['store'])}</code>.</p>",
        "<table><tr><th>Product</th><th>Base model</th><th>Confidence</th><th>Status</th>"
        "<th>Evidence</th><th>Exchanges</th><th>First seen</th><th>Last seen</th></tr>",
    ]
    for p in report["products"]:
        base = e(p["family"] or "—") + (
            f" <small>(reference <code>{e(p['reference'])}</code>)</small>"
            if p["reference"]
            else ""
        )
        out.append(
            f"<tr><td><a href='#p-{e(p['product'])}'>{e(p['product'])}</a></td><td>{base}</td>"
            f"<td>{_pct(p['confidence'])}</td><td class='{e(p['status'])}'>{e(p['status'])}</td>"
            f"<td>{e(', '.join(p['evidence_kinds']))}</td><td>{p['exchanges']}</td>"
            f"<td>{e(p['first_seen'] or '—')}</td><td>{e(p['last_seen'] or '—')}</td></tr>"
        )
    out.append("</table>")
    for p in report["products"]:
        out.append(f"<h2 id='p-{e(p['product'])}'>{e(p['product'])}</h2><ul>")
        out += [f"<li>{e(r)}</li>" for r in p["reasons"]]
        out.append("</ul>")
        if p["conflicts"]:
            out.append("<p class=conflict><b>Conflict:</b></p><ul>")
            out += [f"<li>{e(c)}</li>" for c in p["conflicts"]]
            out.append("</ul>")
        if p["switches"]:
            out.append(f"<p><b>Switches:</b> {e(_switches(p))}</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
