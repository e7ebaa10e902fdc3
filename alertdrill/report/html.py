"""The run's report as one self-contained HTML file (Jinja2, inline CSS and SVG; nothing fetched when it
is opened): the summary table, then per drill its chart, notifications, runbook commands with their
output, investigations, invariants and, when it failed, why. History (alertdrill.report.history) adds
each alert's trend."""
from __future__ import annotations

import time
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from alertdrill.alerting.timings import FLOORS
from alertdrill.engine import noise
from alertdrill.report.chart import chart_svg, event_color
from alertdrill.report.load import figures, label, ratio, seconds, started_at, verdict


def _env() -> Environment:
    env = Environment(loader=PackageLoader("alertdrill.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(seconds=seconds, ratio=ratio, verdict=verdict, label=label, color=event_color)
    return env


def _drill_view(t: dict) -> dict:
    t0 = started_at(t)
    phases = [{**p, "seconds": (p["ended"] - p["started"]) if p.get("ended") else None,
               "kind": p["name"].split(":", 1)[0]} for p in t["phases"]]
    return {
        **figures(t),
        # a figure never broken from its word: the cell wraps between "2 pages," and "3 msgs" only
        "notices": noise.describe(t.get("noise")).replace(" ", "\u00a0").replace(",\u00a0", ", "),
        "noise": noise.Noise.read(t.get("noise")),
        "id": "".join(c if c.isalnum() else "-" for c in t["scenario"]),
        "label": label(t), "verdict": verdict(t), "chart": chart_svg(t),
        "events_rel": [{**e, "t": e["at"] - t0} for e in t["events"]],
        "notifications_rel": [{**n, "t": n["at"] - t0} for n in t["notifications"]],
        "deliveries_rel": [{**n, "t": n["at"] - t0, "lines": _shown_lines(n.get("shown") or {})}
                           for n in t.get("deliveries") or []],
        "investigations": [p for p in phases if p["kind"] == "investigate"],
        "invariants": [p for p in phases if p["kind"] == "invariant"],
        "phases_view": phases,
    }


def _shown_lines(shown: dict) -> list[tuple[str, str]]:
    """A delivery as its reader saw it, field by field (links by their address)."""
    out = []
    for key, value in shown.items():
        if key == "links":
            value = " ".join(str(v.get("href", v)) if isinstance(v, dict) else str(v) for v in value or [])
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        out.append((key.replace("_", " "), str(value)))
    return out


def render_html(timelines: list[dict], *, title: str = "alertdrill report", trends: dict | None = None,
                actions: list | None = None) -> str:
    """The report of `timelines` (dicts as loaded by alertdrill.report.load); `trends` maps an alert's
    label to its history chart (alertdrill.report.history.trend_svgs)."""
    drills = [_drill_view(t) for t in timelines]
    counts: dict[str, int] = {}
    for d in drills:
        counts[d["verdict"]] = counts.get(d["verdict"], 0) + 1
    return _env().get_template("report.html.j2").render(
        title=title, drills=drills, counts=counts, trends=trends or {}, floors=FLOORS, notices=noise.LEGEND,
        actions=actions or [],
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(min(started_at(t) for t in timelines)))
        if timelines else "-")


def write_html(timelines: list[dict], path: Path, **kwargs) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(timelines, **kwargs), encoding="utf-8")
    return path
