"""The audit report: every product's verdict with its evidence, in md, json, csv or html.

The JSON form is the source of the others: ``build_report`` assembles it from the store, and each
renderer only lays it out. JSON carries ``"schema": "provenance.report/1"``; CSV has one row per
product; Markdown and HTML are for people (HTML is one self-contained file, no scripts). Each
fingerprint run carries its channel and the exchange ids it used (:mod:`.report_runs`).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from provenance import __version__
from provenance.display import csv_cell, html_text, md_code, md_text
from provenance.reporting.filters import AuditFilter
from provenance.reporting.report_runs import (
    html_product_runs,
    html_runs,
    markdown_product_runs,
    markdown_runs,
)
from provenance.reporting.svg import timeline_svg

SCHEMA = "provenance.report/1"
_PROSE = 5000  # our own sentences (method, limits) are not cut like captured values
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


def build_report(store: Any, flt: AuditFilter | None = None) -> dict[str, Any]:
    """The report document: verdicts (each with its exchanges per day and family), observed
    model ids, fingerprint runs, and how verdicts are reached — all restricted to ``flt``."""
    from provenance.reporting.product import family_days
    from provenance.reporting.runs import list_runs
    from provenance.store.models import ProductRow
    from provenance.store.queries import models_table
    from provenance.verdicts.collect import UNATTRIBUTED, verdicts
    from provenance.verdicts.method import limits, method

    flt = flt or AuditFilter()
    products = [v.to_json() for v in verdicts(store, flt=flt)]
    with store.session() as session:
        ids = dict(session.execute(select(ProductRow.name, ProductRow.id)).all())
    for p in products:
        rollup_id = 0 if p["product"] == UNATTRIBUTED else ids.get(p["product"])
        p["daily"] = family_days(store, rollup_id, flt) if rollup_id is not None else []
    runs = [
        r
        for r in list_runs(store, limit=None)
        if flt.includes(datetime.fromisoformat(r["started_at"]))
        and (flt.product is None or r["counts_for"] == flt.product)
    ]
    return {
        "schema": SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "generator": f"provenance {__version__}",
        "store": str(store.url),
        "filter": {**flt.to_params(), "description": flt.describe()},
        "products": products,
        "models": models_table(
            store,
            product=flt.product,
            since_day=flt.since_day,
            until_day=flt.until_day,
            provider=flt.provider,
        ),
        "fingerprint_runs": runs,
        "method": method(),
        "limits": limits(),
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
            csv_cell(v)
            for v in (
                p["product"],
                p["status"],
                p["family"],
                p["vendor"],
                p["reference"],
                f"{p['confidence']:.3f}",
                " ".join(p["evidence_kinds"]),
                p["exchanges"],
                p["first_seen"],
                p["last_seen"],
                " | ".join(p["reasons"]),
                " | ".join(p["conflicts"]),
                _switches(p),
            )
        )
    return buf.getvalue()


def _md_cell(value: Any, code: bool = False) -> str:
    if value in (None, ""):
        return "—"
    return md_code(value, table=True) if code else md_text(value, table=True)


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Base-model audit",
        "",
        f"Generated {md_text(report['generated_at'])} by {md_text(report['generator'])} "
        f"from {md_code(report['store'])}; covers {md_text(_covers(report))}.",
        "",
        "| Product | Base model | Reference | Confidence | Status | Evidence | Exchanges "
        "| First seen | Last seen |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in report["products"]:
        cells = [
            _md_cell(p["product"], code=True),
            _md_cell(p["family"]),
            _md_cell(p["reference"], code=True),
            _pct(p["confidence"]),
            _md_cell(p["status"]),
            _md_cell(", ".join(p["evidence_kinds"])),
            _md_cell(p["exchanges"]),
            _md_cell(p["first_seen"]),
            _md_cell(p["last_seen"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for p in report["products"]:
        lines += ["", f"## Product {md_code(p['product'])}", ""]
        lines += [f"- {md_text(r)}" for r in p["reasons"]] or ["- no evidence"]
        if p["conflicts"]:
            lines += ["", "**Conflict:**", ""] + [f"- {md_text(c)}" for c in p["conflicts"]]
        if p["switches"]:
            lines += ["", f"**Switches:** {md_text(_switches(p))}"]
        lines += markdown_product_runs(report, p["product"])
    if report["models"]:
        lines += ["", "## Observed model ids", ""]
        lines += [
            "| Product | Provider | Model id | Family | Requests | Last seen |",
            "|---|---|---|---|---|---|",
        ]
        for m in report["models"]:
            cells = [
                _md_cell(m.get("product"), code=True),
                _md_cell(m.get("provider")),
                _md_cell(m.get("model_id"), code=True),
                _md_cell(m.get("family")),
                _md_cell(m.get("requests")),
                _md_cell(m.get("last_seen")),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += markdown_runs(report)
    lines += ["", "## How verdicts are reached", ""]
    lines += [f"- {md_text(m, limit=_PROSE)}" for m in report.get("method", [])]
    lines += ["", "## Limits", ""] + [
        f"- {md_text(m, limit=_PROSE)}" for m in report.get("limits", [])
    ]
    return "\n".join(lines) + "\n"


def _covers(report: dict[str, Any]) -> str:
    return (report.get("filter") or {}).get("description") or "everything in the store"


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2430}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border-bottom:1px solid #dde;
padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f3f5f9}
.identified{color:#11703a}.conflict,.partial{color:#b3261e}.unknown,.no-evidence{color:#777}
code{background:#f3f5f9;padding:0 .2rem;border-radius:3px}figure{margin:.5rem 0}
figcaption{font-size:12px;color:#555}@media print{body{margin:0;max-width:none}h2{break-after:avoid}
tr,figure{break-inside:avoid}}
"""


# Nothing in the report may load or run anything: no remote fetch (a tracking beacon in a model
# id), no script, no form; only the inline stylesheet above and data: images.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


def _html(report: dict[str, Any]) -> str:
    e = html_text
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        "<title>Base-model audit</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Base-model audit</h1>",
        f"<p>Generated {e(report['generated_at'])} by {e(report['generator'])} "
        f"from <code>{e(report['store'])}</code>; covers {e(_covers(report))}.</p>",
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
        out += html_product_runs(report, p["product"])
        chart = timeline_svg(p.get("daily") or [], p["switches"])
        if chart:
            out.append(f"<figure>{chart}<figcaption>exchanges per day (UTC) by family"
                       "</figcaption></figure>")  # fmt: skip
    out += html_runs(report, {p["product"] for p in report["products"]})
    out.append("<h2>How verdicts are reached</h2><ul>")
    out += [f"<li>{e(m, limit=_PROSE)}</li>" for m in report.get("method", [])]
    out.append("</ul><h2>Limits</h2><ul>")
    out += [f"<li>{e(m, limit=_PROSE)}</li>" for m in report.get("limits", [])]
    out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
