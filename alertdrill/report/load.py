"""Read the timeline JSON files a run wrote (docs/timeline-schema.md) and derive the figures the
report shows. Files from before schema version 1 (no notifications, actions or samples), or from before
the noise figure and quiet drills, still load: what they lack shows as "-"."""
from __future__ import annotations

import json
from pathlib import Path

from alertdrill.engine.timeline import quiet_label
from alertdrill.errors import ConfigError

DEFAULTS = {"samples": [], "events": [], "phases": [], "notifications": [], "actions": [], "receivers": [],
            "severity": "", "remediate": "runbook", "error": "", "threshold": "", "watch": "",
            "time_to_mitigate": None, "fire_deadline": None, "broken_on_purpose": False,
            "notified_after": {}, "resolved_notified_after": {}, "noise": {}, "kind": "alert"}
# What times an alert; a quiet drill expects none, so it has none of these
ALERT_FIGURES = ("time_to_fire", "fire_floor", "fire_ratio", "fire_deadline", "time_to_mitigate", "time_to_resolve",
                 "resolve_floor", "resolve_ratio")


def load_timeline(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the timeline {path}: {exc}") from None
    if not isinstance(data, dict) or "scenario" not in data or "events" not in data:
        raise ConfigError(f"{path} is not a drill timeline: expected a JSON object with `scenario` and "
                          "`events` (see docs/timeline-schema.md)")
    return {**DEFAULTS, **data, "file": Path(path).name}


def load_dir(directory: Path) -> list[dict]:
    """Every timeline in `directory` (not its subfolders), oldest drill first."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"no such directory: {directory} (timelines are written to .alertdrill/timelines)")
    timelines = [load_timeline(p) for p in sorted(directory.glob("*.json")) if p.name != "history.json"]
    if not timelines:
        raise ConfigError(f"{directory} holds no timeline JSON files: run a drill first "
                          "(`alertdrill drill -k RedisDisconnected`)")
    return sorted(timelines, key=started_at)


def started_at(t: dict) -> float:
    times = [p["started"] for p in t["phases"]] + [e["at"] for e in t["events"]]
    return min(times) if times else 0.0


def verdict(t: dict) -> str:
    """passed | failed | aborted; for a drill against deliberately broken alerting: caught | MISSED."""
    if t.get("broken_on_purpose"):
        return "caught" if t.get("outcome") == "failed" else "MISSED"
    return t.get("outcome", "running")


def figures(t: dict) -> dict:
    """The timeline as a summary row shows it: a quiet drill's alert figures blank ("-")."""
    return {**t, **dict.fromkeys(ALERT_FIGURES)} if t.get("kind") == "quiet" else t


def label(t: dict) -> str:
    """The alert's name, plus the scenario's variant when the test id carries one (e.g. [replay]) and
    what the test's name adds when it is not the scenario's own (test_<Alert>); a quiet drill's scenario."""
    scenario, alert = t.get("scenario", ""), t.get("alert", "")
    if t.get("kind") == "quiet":
        return quiet_label(scenario)
    stem, _, variant = scenario.partition("[")
    extra = stem[len(f"test_{alert}"):].strip("_") if stem.startswith(f"test_{alert}") else stem.removeprefix("test_")
    extra = extra.replace(f"_{alert}_", " ").replace("_", " ")
    return alert + (f" [{variant.rstrip(']')}]" if variant else "") + (f" ({extra})" if extra else "")


def seconds(value) -> str:
    return "-" if value is None else f"{value:.1f}s"


def ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"
