"""The privacy team's dashboard: daily rollups of the log, drawn as SVG on the server.

:func:`rollup_day` counts one site's events of one UTC day into
:class:`~consent.models.ConsentRollup` rows (per source, region and choice
pattern, with per-purpose asked/granted counts), replacing that day's rows, so
it is idempotent. The Celery task ``consent.tasks.refresh_rollups`` runs it for
today and yesterday every few minutes; the dashboard only reads rollups, never
the log. Charts are plain SVG strings (no JavaScript), with a title and a
description for screen readers, and the numbers are also shown as tables.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from html import escape

from django.db import transaction
from django.utils import timezone

from consent.models import ConsentEvent, Site

from .models import ConsentRollup

SOURCE_GROUPS = {
    "banner": "Banner", "api": "API", "gpc": "GPC", "nai": "NAI opt-out", "ga_optout": "GA opt-out",
    "lat": "Limit ad tracking", "dnt": "DNT", "expiry": "Expiry", "policy": "Policy change", "erasure": "Erasure",
}
PATTERNS = [("accept_all", "Accept all"), ("reject_all", "Reject all"), ("custom", "Custom")]
PALETTE = ["#1f77b4", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#666666"]


# --- Rollups ---------------------------------------------------------------------

def pattern_of(choices: dict, optional: list[str]) -> str:
    """accept_all / reject_all / custom for a choice; '' for events without one."""
    asked = [bool(choices[key]) for key in optional if key in choices]
    if not choices or not asked:
        return ""
    if all(asked) and len(asked) == len(optional):
        return "accept_all"
    if not any(asked) and len(asked) == len(optional):
        return "reject_all"
    return "custom"


def rollup_day(site, day: date) -> int:
    """Recount ``site``'s events of ``day`` (UTC) into its rollup rows; returns events counted."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    optional = [p.key for p in site.purposes.all() if not p.essential]
    cells: dict[tuple, dict] = {}
    total = 0
    events = ConsentEvent.objects.filter(site=site, created_at__gte=start, created_at__lt=start + timedelta(days=1))
    for source, region, choices in events.values_list("source", "region", "choices").iterator(chunk_size=5000):
        choices = choices or {}
        cell = cells.setdefault((source, region or "", pattern_of(choices, optional)), {"events": 0, "purposes": {}})
        cell["events"] += 1
        total += 1
        for key in optional:
            if key in choices:
                counts = cell["purposes"].setdefault(key, [0, 0])
                counts[0] += 1
                counts[1] += 1 if choices[key] else 0
    now = timezone.now()
    with transaction.atomic():
        ConsentRollup.objects.filter(site=site, day=day).delete()
        ConsentRollup.objects.bulk_create([
            ConsentRollup(site=site, day=day, source=s, region=r, pattern=p, events=c["events"], purposes=c["purposes"], computed_at=now)
            for (s, r, p), c in cells.items()
        ])
    return total


def refresh_rollups(days: int = 2, today: date | None = None) -> int:
    """Recount the last ``days`` days (today included) of every site; returns events counted."""
    today = today or timezone.now().astimezone(UTC).date()
    counted = 0
    for site in Site.objects.prefetch_related("purposes"):
        for offset in range(days):
            counted += rollup_day(site, today - timedelta(days=offset))
    return counted


# --- What the dashboard shows -----------------------------------------------------

def dashboard_data(site, days: int = 30, today: date | None = None) -> dict:
    today = today or timezone.now().astimezone(UTC).date()
    start = today - timedelta(days=days - 1)
    day_list = [start + timedelta(days=i) for i in range(days)]
    optional = [p.key for p in site.purposes.all() if not p.essential]
    per_day = {key: defaultdict(lambda: [0, 0]) for key in optional}
    sources, regions, patterns = defaultdict(int), defaultdict(int), defaultdict(int)
    computed_at, total = None, 0
    for row in ConsentRollup.objects.filter(site=site, day__gte=start, day__lte=today):
        total += row.events
        sources[row.source] += row.events
        regions[row.region or "unknown"] += row.events
        if row.pattern:
            patterns[row.pattern] += row.events
        for key, (asked, granted) in row.purposes.items():
            if key in per_day:
                per_day[key][row.day][0] += asked
                per_day[key][row.day][1] += granted
        computed_at = max(computed_at, row.computed_at) if computed_at else row.computed_at
    opt_in = {
        key: [(d, (per_day[key][d][1] / per_day[key][d][0]) if per_day[key][d][0] else None) for d in day_list]
        for key in optional
    }
    totals = {key: [sum(per_day[key][d][0] for d in day_list), sum(per_day[key][d][1] for d in day_list)] for key in optional}
    top_regions = sorted(regions.items(), key=lambda kv: -kv[1])
    if len(top_regions) > 10:
        top_regions = top_regions[:9] + [("other", sum(v for _, v in top_regions[9:]))]
    return {
        "days": day_list, "total": total, "computed_at": computed_at, "opt_in": opt_in, "opt_in_totals": totals,
        "sources": sorted(((SOURCE_GROUPS.get(k, k), v) for k, v in sources.items()), key=lambda kv: -kv[1]),
        "regions": top_regions,
        "patterns": [(label, patterns.get(key, 0)) for key, label in PATTERNS],
    }


# --- SVG ---------------------------------------------------------------------------

def _svg(width, height, title, desc, body) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="t d" font-family="system-ui, sans-serif" font-size="12">'
        f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>{body}</svg>'
    )


def line_chart(series: dict[str, list[tuple[date, float | None]]], title: str, width=720, height=280) -> str:
    """Opt-in rate (0–100 %) per day, one line per purpose; gaps where nobody was asked."""
    left, right, top, bottom = 44, 150, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    days = next(iter(series.values()), [])
    n = max(len(days) - 1, 1)
    parts = []
    for pct in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{pct}%</text>')
    step = max(1, len(days) // 6)
    for i, (d, _) in enumerate(days):
        if i % step == 0 or i == len(days) - 1:
            x = left + plot_w * i / n
            parts.append(f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle" fill="#555">{d:%b %d}</text>')
    for index, (name, points) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        segment, segments = [], []
        for i, (_, value) in enumerate(points):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append((left + plot_w * i / n, top + plot_h * (1 - value)))
        if segment:
            segments.append(segment)
        for seg in segments:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2.5"/>')
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in seg)
        ly = top + 14 + index * 20
        parts.append(f'<rect x="{left + plot_w + 16}" y="{ly - 9}" width="12" height="12" fill="{color}"/>'
                     f'<text x="{left + plot_w + 34}" y="{ly + 1}">{escape(name)}</text>')
    desc = "; ".join(
        f"{name}: " + (f"{100 * sum(v for _, v in pts if v is not None) / max(1, sum(1 for _, v in pts if v is not None)):.0f}% average"
                       if any(v is not None for _, v in pts) else "no choices")
        for name, pts in series.items()
    )
    return _svg(width, height, title, desc, "".join(parts))


def bar_chart(items: list[tuple[str, int]], title: str, width=460, bar=22) -> str:
    """Horizontal bars with their counts and shares."""
    left, right = 130, 90
    total = sum(v for _, v in items) or 1
    peak = max((v for _, v in items), default=0) or 1
    height = max(len(items), 1) * (bar + 8) + 8
    parts = []
    for i, (label, value) in enumerate(items):
        y = 6 + i * (bar + 8)
        w = (width - left - right) * value / peak
        parts.append(
            f'<text x="{left - 8}" y="{y + bar / 2 + 4:.1f}" text-anchor="end">{escape(str(label))}</text>'
            f'<rect x="{left}" y="{y}" width="{max(w, 1):.1f}" height="{bar}" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + bar / 2 + 4:.1f}" fill="#333">{value} ({100 * value / total:.0f}%)</text>'
        )
    if not items:
        parts.append(f'<text x="{left}" y="24" fill="#555">No events in this period.</text>')
    desc = "; ".join(f"{label}: {value}" for label, value in items) or "no events"
    return _svg(width, height, title, desc, "".join(parts))


def share_bar(items: list[tuple[str, int]], title: str, width=720, height=64) -> str:
    """One 100% stacked bar (Accept all / Reject all / Custom)."""
    colors = {"Accept all": "#1b9e77", "Reject all": "#d95f02", "Custom": "#7570b3"}
    total = sum(v for _, v in items)
    parts, x = [], 0.0
    for label, value in items:
        if not total or not value:
            continue
        w = width * value / total
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="36" fill="{colors.get(label, "#888")}"/>')
        if w > 70:
            parts.append(f'<text x="{x + w / 2:.1f}" y="23" text-anchor="middle" fill="#fff" font-weight="bold">'
                         f'{escape(label)} {100 * value / total:.0f}%</text>')
        x += w
    if not total:
        parts.append('<text x="0" y="23" fill="#555">No choices in this period.</text>')
    legend_x = 0
    for label, value in items:
        parts.append(f'<rect x="{legend_x}" y="46" width="12" height="12" fill="{colors.get(label, "#888")}"/>'
                     f'<text x="{legend_x + 16}" y="56">{escape(label)}: {value}</text>')
        legend_x += 170
    desc = "; ".join(f"{label}: {value} of {total}" for label, value in items)
    return _svg(width, height, title, desc, "".join(parts))


def charts(data: dict) -> dict:
    return {
        "opt_in": line_chart({k: v for k, v in data["opt_in"].items()}, "Opt-in rate per purpose per day"),
        "sources": bar_chart(data["sources"], "Events by source"),
        "regions": bar_chart(data["regions"], "Events by region"),
        "patterns": share_bar(data["patterns"], "Accept all vs Reject all vs custom choices"),
    }
