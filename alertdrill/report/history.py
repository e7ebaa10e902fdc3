"""Each run's figures appended to a history file (JSON lines, one record per drill), each alert's trend
drawn from it, and the regression gate: a drill whose time to fire exceeds R x its floor fails."""
from __future__ import annotations

import json
import time
from pathlib import Path

from alertdrill.errors import DrillError
from alertdrill.report.load import label

FIGURES = ("time_to_fire", "fire_floor", "fire_ratio", "time_to_mitigate", "time_to_resolve", "resolve_floor",
           "resolve_ratio", "factor", "remediate", "outcome",
           "noise")  # {pages, messages, duplicates, flaps}; {} when not counted


def append(path: Path, timelines: list[dict]) -> None:
    """One line per drill: when, which alert, and its figures."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        for t in timelines:
            record = {"run_at": round(time.time(), 3), "alert": label(t), "scenario": t["scenario"],
                      **{k: t.get(k) for k in FIGURES}}
            f.write(json.dumps(record) + "\n")


def read(path: Path) -> dict[str, list[dict]]:
    """alert label -> its records, oldest first; unreadable lines are skipped."""
    out: dict[str, list[dict]] = {}
    path = Path(path)
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.setdefault(r.get("alert", "?"), []).append(r)
    return out


def trend_svgs(history: dict[str, list[dict]], timelines: list[dict], last: int = 30) -> dict[str, str]:
    """alert label -> a small SVG of its fire ratio (time to fire / floor) over its last runs."""
    return {label(t): _sparkline(history[label(t)][-last:]) for t in timelines if history.get(label(t))}


def _sparkline(records: list[dict], w: int = 420, h: int = 70) -> str:
    ratios = [r.get("fire_ratio") for r in records]
    values = [v for v in ratios if v is not None]
    hi = max(values + [1.0]) * 1.15
    n = max(len(records) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{10 + i / n * (w - 20):.1f},{h - 12 - v / hi * (h - 22):.1f}"

    one = h - 12 - 1.0 / hi * (h - 22)
    parts = [f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
             f'<line x1="10" x2="{w - 10}" y1="{one:.1f}" y2="{one:.1f}" stroke="#2a9d8f" stroke-dasharray="4 3"/>',
             f'<text x="{w - 10}" y="{one - 3:.1f}" font-size="10" text-anchor="end" fill="#2a9d8f">floor (1x)</text>']
    points = [xy(i, v) for i, v in enumerate(ratios) if v is not None]
    if points:
        parts.append(f'<polyline fill="none" stroke="#1b263b" stroke-width="1.5" points="{" ".join(points)}"/>')
    for i, (r, v) in enumerate(zip(records, ratios)):
        if v is not None:
            color = "#2a9d8f" if r.get("outcome") == "passed" else "#d62828"
            parts.append(f'<circle cx="{xy(i, v).split(",")[0]}" cy="{xy(i, v).split(",")[1]}" r="3" fill="{color}">'
                         f'<title>{time.strftime("%Y-%m-%d %H:%M", time.localtime(r["run_at"]))}: '
                         f'{v:.2f}x ({r.get("outcome")}, x{r.get("factor")})</title></circle>')
    parts.append(f'<text x="10" y="{h - 1}" font-size="10" fill="#555">{len(records)} runs; last '
                 f'{values[-1]:.2f}x</text>' if values else "")
    parts.append("</svg>")
    return "".join(parts)


def check_fire_ratio(timeline, max_ratio: float | None) -> None:
    """The regression gate: DrillError when the time to fire exceeds max_ratio x its floor."""
    if max_ratio is None or timeline.time_to_fire is None or not timeline.fire_floor:
        return
    r = timeline.time_to_fire / timeline.fire_floor
    if r > max_ratio:
        raise DrillError(
            f"{timeline.alert} took {timeline.time_to_fire:.1f}s to fire: {r:.2f} x its floor, over the "
            f"gate of {max_ratio:g} x",
            expected=f"time to fire <= {max_ratio:g} x {timeline.fire_floor:.1f}s = {max_ratio * timeline.fire_floor:.1f}s",
            seen=f"{timeline.time_to_fire:.1f}s ({r:.2f} x)",
            hint="a slower scrape, evaluation or group_wait, or a rule whose `for` grew; see the report's trend, "
                 "or raise --max-fire-ratio if the floor itself is known to be unreachable")
