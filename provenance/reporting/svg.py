"""A small inline SVG chart for the HTML report: exchanges per day, stacked by family, with
switches marked. Self-contained (no script, no remote font), so the report prints and opens
anywhere; every label is escaped."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from provenance.display import html_text

PALETTE = ("#3b6fb6", "#e07b39", "#4c9a5f", "#b5495b", "#7d5ba6", "#8c6d31", "#2b8c9e", "#777")
WIDTH, HEIGHT, PAD = 640, 160, 28


def timeline_svg(daily: list[dict[str, Any]], switches: list[dict[str, Any]]) -> str:
    """``daily`` rows ``{day, family, exchanges}``; ``switches`` rows ``{from, to, at}``."""
    if not daily:
        return ""
    days = sorted({r["day"] for r in daily})
    families = sorted({r["family"] for r in daily})
    colour = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(families)}
    per_day: dict[str, dict[str, int]] = defaultdict(dict)
    for r in daily:
        per_day[r["day"]][r["family"]] = per_day[r["day"]].get(r["family"], 0) + r["exchanges"]
    top = max(sum(v.values()) for v in per_day.values()) or 1
    step = (WIDTH - 2 * PAD) / len(days)
    bar = max(1.0, step * 0.8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + 40}" '
        f'role="img" aria-label="exchanges per day by family">'
    ]
    for i, day in enumerate(days):
        x, y = PAD + i * step, HEIGHT - PAD
        for family in families:
            n = per_day[day].get(family, 0)
            if n:
                h = (HEIGHT - 2 * PAD) * n / top
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                    f'fill="{colour[family]}"><title>{html_text(day)}: {html_text(family)} '
                    f"{n}</title></rect>"
                )
    for s in switches:
        day = (s.get("at") or "")[:10]
        if day in days:
            x = PAD + days.index(day) * step - 1
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD / 2}" y2="{HEIGHT - PAD}" '
                f'stroke="#b00020" stroke-dasharray="4 3"><title>switch on {html_text(day)}: '
                f"{html_text(s.get('from'))} to {html_text(s.get('to'))}</title></line>"
            )
    parts.append(
        f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="11">{html_text(days[0])}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="11" text-anchor="end">'
        f"{html_text(days[-1])}</text>"
    )
    x = PAD
    for family in families[:8]:
        parts.append(
            f'<rect x="{x}" y="{HEIGHT + 10}" width="10" height="10" fill="{colour[family]}"/>'
            f'<text x="{x + 14}" y="{HEIGHT + 19}" font-size="11">{html_text(family[:30])}</text>'
        )
        x += 20 + 7 * min(len(family), 30)
    parts.append("</svg>")
    return "".join(parts)
