"""One drill's timeline chart as inline SVG: the watched value over time with its threshold line, the
stretches the alert spent pending and firing shaded, each event (injected, pending, firing, notified per
receiver, remediated, mitigated, resolved, resolved notices) a numbered marker, and the phases as a band
underneath. Pure string building: the report opens from disk with nothing to fetch."""
from __future__ import annotations

from html import escape

from alertdrill.runbook.promises import Threshold

W, PLOT_H, TOP, LEFT, RIGHT = 920, 180, 46, 58, 16
BAND_H = 18
COLORS = {"injected": "#7b2cbf", "pending": "#e0a100", "firing": "#d62828", "notified": "#d62828",
          "remediated": "#1d6fd1", "mitigated": "#2a9d8f", "resolved": "#2a9d8f", "resolved-notified": "#2a9d8f",
          "workload": "#777"}
PHASE_COLORS = {"steady": "#cfe8d5", "workload": "#e4e4e4", "fault": "#e3d0f5", "fires": "#f7c6c6",
                "investigate": "#fde6b0", "remediation": "#c8dcf7", "resolves": "#cfe8d5", "invariant": "#e6efe0",
                "mitigation": "#c8dcf7"}


def event_color(name: str) -> str:
    return COLORS.get(name.split(":", 1)[0], "#555")


def _phase_color(name: str) -> str:
    return next((c for k, c in PHASE_COLORS.items() if k in name.lower()), "#ddd")


def _span(t: dict) -> tuple[float, float]:
    times = [s[0] for s in t.get("samples") or []] + [e["at"] for e in t.get("events") or []]
    for p in t.get("phases") or []:
        times += [p["started"]] + ([p["ended"]] if p.get("ended") else [])
    if not times:
        return 0.0, 1.0
    t0, t1 = min(times), max(times)
    return t0, max(t1, t0 + 1.0)


def _y_range(values: list[float], threshold: Threshold | None) -> tuple[float, float]:
    pool = values + ([threshold.value] if threshold else [])
    lo, hi = (min(pool), max(pool)) if pool else (0.0, 1.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.1
    return lo - pad, hi + pad


def _polylines(samples: list, x, y) -> list[str]:
    """One polyline per run of samples with data (a gap where the query had none)."""
    runs, current = [], []
    for at, value in samples:
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(f"{x(at):.1f},{y(value):.1f}")
    if current:
        runs.append(current)
    return [f'<polyline class="series" fill="none" stroke="#1b263b" stroke-width="1.8" points="{" ".join(r)}"/>'
            for r in runs]


def _shade(t: dict, x, top: float, height: float) -> list[str]:
    """The alert pending (amber) and firing (red) stretches."""
    ev = {e["name"]: e["at"] for e in reversed(t.get("events") or [])}  # first occurrence wins
    end = _span(t)[1]
    out = []
    for start, stop, color in (("pending", "firing", "#fff1c7"), ("firing", "resolved", "#fde0e0")):
        if start in ev:
            a, b = x(ev[start]), x(ev.get(stop, end))
            out.append(f'<rect class="shade-{start}" x="{a:.1f}" y="{top}" width="{max(b - a, 1):.1f}" '
                       f'height="{height}" fill="{color}"/>')
    return out


def chart_svg(t: dict) -> str:
    """The chart of one timeline (as written to JSON)."""
    t0, t1 = _span(t)
    samples = t.get("samples") or []
    threshold = Threshold.read(t.get("threshold", ""))
    lo, hi = _y_range([v for _, v in samples if v is not None], threshold)
    plot_w = W - LEFT - RIGHT
    phases = t.get("phases") or []
    height = TOP + PLOT_H + 26 + BAND_H + 8

    def x(at: float) -> float:
        return LEFT + (at - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return TOP + PLOT_H - (v - lo) / (hi - lo) * PLOT_H

    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" '
             f'height="{height}" role="img" aria-label="{escape(t.get("alert", ""))} timeline">',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{PLOT_H}" fill="#fafafa" stroke="#ccc"/>']
    parts += _shade(t, x, TOP, PLOT_H)
    parts += _axes(t0, t1, lo, hi, x, y)
    if threshold:
        ty = y(threshold.value)
        parts.append(f'<line class="threshold" x1="{LEFT}" x2="{W - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
                     f'stroke="#d62828" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{W - RIGHT - 4}" y="{ty - 4:.1f}" text-anchor="end" font-size="11" fill="#d62828">'
                     f'alert when {escape(str(threshold))}</text>')
    parts += _polylines(samples, x, y)
    parts += _markers(t.get("events") or [], x)
    parts += _phase_band(phases, x, TOP + PLOT_H + 26)
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(t0, t1, lo, hi, x, y) -> list[str]:
    out = []
    step = _nice_step((t1 - t0) / 8)
    s = 0.0
    while s <= t1 - t0 + 1e-9:
        px = x(t0 + s)
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP + PLOT_H}" y2="{TOP + PLOT_H + 4}" stroke="#888"/>')
        out.append(f'<text x="{px:.1f}" y="{TOP + PLOT_H + 16}" font-size="10" text-anchor="middle" fill="#555">'
                   f'{s:g}s</text>')
        s += step
    for v in (lo, (lo + hi) / 2, hi):
        out.append(f'<text x="{LEFT - 6}" y="{y(v) + 3:.1f}" font-size="10" text-anchor="end" fill="#555">{v:.3g}</text>')
    return out


def _nice_step(raw: float) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if step >= raw:
            return float(step)
    return 7200.0


def _markers(events: list[dict], x) -> list[str]:
    """A vertical line and a numbered circle per event, staggered on three rows so neighbours stay
    readable; the numbers are listed under the chart."""
    out = []
    for i, e in enumerate(events, start=1):
        px, color = x(e["at"]), event_color(e["name"])
        cy = 10 + (i - 1) % 3 * 12
        out.append(f'<g class="event" data-name="{escape(e["name"])}"><title>{i}. {escape(e["name"])} '
                   f'{escape(e.get("detail", ""))}</title>'
                   f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{cy + 6}" y2="{TOP + PLOT_H}" stroke="{color}" '
                   f'stroke-width="1" opacity="0.7"/>'
                   f'<circle cx="{px:.1f}" cy="{cy}" r="6" fill="{color}"/>'
                   f'<text x="{px:.1f}" y="{cy + 3.5}" font-size="8.5" text-anchor="middle" fill="#fff">{i}</text></g>')
    return out


def _phase_band(phases: list[dict], x, top: float) -> list[str]:
    out = [f'<text x="{LEFT - 6}" y="{top + 12}" font-size="10" text-anchor="end" fill="#555">phases</text>']
    for p in phases:
        a, b = x(p["started"]), x(p.get("ended") or p["started"])
        w = max(b - a, 1.5)
        stroke = "#d62828" if p.get("outcome") == "failed" else "#fff"
        out.append(f'<g class="phase"><title>{escape(p["name"])} ({p.get("outcome", "")})</title>'
                   f'<rect x="{a:.1f}" y="{top}" width="{w:.1f}" height="{BAND_H}" fill="{_phase_color(p["name"])}" '
                   f'stroke="{stroke}"/>')
        label = p["name"].split(":", 1)[0]
        if w > 7 * len(label):
            out.append(f'<text x="{a + 3:.1f}" y="{top + 12.5}" font-size="10" fill="#333">{escape(label)}</text>')
        out.append("</g>")
    return out
