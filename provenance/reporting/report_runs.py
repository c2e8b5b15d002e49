"""The fingerprint runs of the audit report, in Markdown and HTML (see :mod:`.report`).

One table row per run: the product it counts for, where it probed, its channel with the
exchange ids it used (the template a replay re-sent, the probes it stored or a guided run
matched), its verdict and notes (usage not reported, a partial run and why). The report holds no
exchanges, so an exchange is named by its id in the store; a product's section lists the runs
that count for it, linked to their rows in HTML. Every value is escaped by the display renderers.
"""

from __future__ import annotations

from typing import Any

from provenance.display import html_text, md_code, md_text
from provenance.reporting.runs import channel_text, notes_text

HEADERS = ("Run", "Started", "Kind", "Counts for", "Target", "Channel", "Verdict", "Requests",
           "Notes")  # fmt: skip
LOOKUP = "Exchange ids are those of the store the report was made from: "
LOOKUP_COMMAND = "provenance exchanges show ID"


def runs_of(report: dict[str, Any], product: str) -> list[dict[str, Any]]:
    """The report's runs that count for ``product``, oldest first."""
    runs = [r for r in report.get("fingerprint_runs", []) if r.get("counts_for") == product]
    return sorted(runs, key=lambda r: (r["started_at"], r["id"]))


def _md(value: Any, code: bool = False) -> str:
    if value in (None, ""):
        return "—"
    return md_code(value, table=True) if code else md_text(value, table=True)


def markdown_product_runs(report: dict[str, Any], product: str) -> list[str]:
    """Lines for a product's section: the runs that count for it, with their channels."""
    runs = runs_of(report, product)
    if not runs:
        return []
    lines = ["", "**Fingerprint runs:**", ""]
    for r in runs:
        lines.append(
            f"- run {r['id']} ({md_text(r['kind'])}): {md_text(channel_text(r['channel']))}"
        )
    return lines


def markdown_runs(report: dict[str, Any]) -> list[str]:
    """The "Fingerprint runs" section (no lines when the report has none)."""
    runs = report.get("fingerprint_runs") or []
    if not runs:
        return []
    lines = ["", "## Fingerprint runs", "", f"{md_text(LOOKUP)}{md_code(LOOKUP_COMMAND)}.", ""]
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in runs:
        cells = [
            str(r["id"]),
            _md(r["started_at"]),
            _md(r["kind"]),
            _md(r["counts_for"], code=True),
            _md(r["target"], code=True),
            _md(channel_text(r["channel"])),
            _md(r["verdict"] or "null"),
            _md(r["requests"]),
            _md(notes_text(r)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def html_product_runs(report: dict[str, Any], product: str) -> list[str]:
    """HTML for a product's section: its runs, each linked to its row of the runs table."""
    runs = runs_of(report, product)
    if not runs:
        return []
    out = ["<p><b>Fingerprint runs:</b></p><ul>"]
    out += [
        f"<li><a href='#run-{r['id']}'>run {r['id']}</a> ({html_text(r['kind'])}): "
        f"{html_text(channel_text(r['channel']))}</li>"
        for r in runs
    ]
    out.append("</ul>")
    return out


def html_runs(report: dict[str, Any], products: set[str]) -> list[str]:
    """The "Fingerprint runs" section; a run's product links to its section when the report
    has one (``products``)."""
    runs = report.get("fingerprint_runs") or []
    if not runs:
        return []
    e = html_text
    out = [
        "<h2 id='fingerprint-runs'>Fingerprint runs</h2>",
        f"<p>{e(LOOKUP)}<code>{e(LOOKUP_COMMAND)}</code>.</p>",
        "<table><tr>" + "".join(f"<th>{h}</th>" for h in HEADERS) + "</tr>",
    ]
    for r in runs:
        product = e(r["counts_for"])
        if r["counts_for"] in products:
            product = f"<a href='#p-{product}'>{product}</a>"
        note = notes_text(r)
        out.append(
            f"<tr id='run-{r['id']}'><td>{r['id']}</td><td>{e(r['started_at'])}</td>"
            f"<td>{e(r['kind'])}</td><td>{product}</td><td><code>{e(r['target'])}</code></td>"
            f"<td>{e(channel_text(r['channel']))}</td><td>{e(r['verdict'] or 'null')}</td>"
            f"<td>{e(r['requests'])}</td>"
            f"<td{' class=partial' if r['partial'] or r['failure'] else ''}>{e(note or '—')}</td>"
            "</tr>"
        )
    out.append("</table>")
    return out
