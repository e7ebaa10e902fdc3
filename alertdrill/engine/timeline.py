"""A drill's timeline: what happened when, each phase's duration, and the figures against their floors.

Written as JSON per drill (.alertdrill/timelines/<scenario>.json); the report (alertdrill.report) is
made from these files. The format is documented in docs/timeline-schema.md and checked by
alertdrill/report/timeline.schema.json: a new field goes in all three places, and SCHEMA_VERSION
changes when a field changes meaning or goes away."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from alertdrill.engine import noise

SCHEMA_VERSION = 1


@dataclass
class Event:
    name: str  # injected, pending, firing, notified:<receiver>, remediated, resolved, resolved-notified:<receiver>
    at: float  # unix time
    detail: str = ""


@dataclass
class Phase:
    name: str
    started: float
    ended: float | None = None
    outcome: str = "running"  # ok | failed | running
    detail: str = ""  # the evidence an investigation found, what an invariant held

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started


@dataclass
class Timeline:
    scenario: str
    alert: str
    factor: float
    fire_floor: float | None = None  # window + scrape + evaluation + for + group_wait (drill timings)
    resolve_floor: float | None = None  # scrape + evaluation + group_interval
    deadlines: dict[str, float] = field(default_factory=dict)  # receiver -> s after the condition holds
    repeat_after: dict[str, float] = field(default_factory=dict)  # receiver -> its promised repeat_interval (s)
    side_effects: dict[str, dict] = field(default_factory=dict)  # alert -> {reason, reached: receivers}
    events: list[Event] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    outcome: str = "running"
    # The watched expression over the drill: [unix time, value or None], sampled at every poll.
    samples: list[list] = field(default_factory=list)
    watch: str = ""  # the expression sampled, at drill speed
    threshold: str = ""
    # A drill run against deliberately broken alerting (tests/drill): failing is the expected outcome.
    broken_on_purpose: bool = False
    severity: str = ""
    receivers: list[str] = field(default_factory=list)
    remediate: str = "runbook"  # runbook (the suite runs the runbook's action) | human (people on call do)
    fire_deadline: float | None = None
    # Each notification of the alert as the sink received it: {"receiver", "status", "at"}.
    notifications: list[dict] = field(default_factory=list)
    # Each delivery of the alert as people saw it: {"receiver", "integration", "status", "at", "shown",
    # "dedup_key"?} (alertdrill.engine.delivered), and what in them broke the runbook's promise.
    deliveries: list[dict] = field(default_factory=list)
    delivery_problems: list[str] = field(default_factory=list)
    # Each remediation applied: {"name", "script", "output", "started", "ended"} (script: as typed).
    actions: list[dict] = field(default_factory=list)
    # The notices the drill delivered: {"pages", "messages", "duplicates", "flaps"} (alertdrill.engine.noise);
    # empty when they were not counted.
    noise: dict = field(default_factory=dict)
    kind: str = "alert"  # alert | quiet (a drill that expects no alert: no fire or resolve figures)
    error: str = ""  # the failure's message, when the drill failed or was aborted
    schema_version: int = SCHEMA_VERSION

    @classmethod
    def from_dict(cls, d: dict) -> "Timeline":
        """A timeline read back from its JSON (as_dict's extra, derived keys are dropped)."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["events"] = [Event(e["name"], e["at"], e.get("detail", "")) for e in d.get("events", [])]
        kw["phases"] = [Phase(p["name"], p["started"], p.get("ended"), p.get("outcome", "running"),
                              p.get("detail", "")) for p in d.get("phases", [])]
        return cls(**kw)

    def mark(self, name: str, detail: str = "", at: float | None = None) -> Event:
        event = Event(name, time.time() if at is None else at, detail)
        self.events.append(event)
        return event

    def keep_notice(self, row: dict) -> bool:
        """Add one notice ({"receiver", "status", "at"}, and "alert" when it is another alert's) to
        `notifications` unless it is there already: every notice once, repeats included. Whether it was new."""
        if row in self.notifications:
            return False
        self.notifications.append(row)
        return True

    def first(self, name: str) -> Event | None:
        return next((e for e in self.events if e.name == name), None)

    def last(self, prefix: str) -> Event | None:
        hits = [e for e in self.events if e.name.startswith(prefix)]
        return max(hits, key=lambda e: e.at) if hits else None

    def between(self, start: str, end_prefix: str) -> float | None:
        """Seconds from the last `start` event to the latest event whose name starts with end_prefix
        (a drill may prepare the ground with a first injection and trigger with a second)."""
        a, b = self.last(start), self.last(end_prefix)
        return b.at - a.at if a and b and b.at >= a.at else None

    @property
    def time_to_fire(self) -> float | None:
        """Fault injected -> the last expected receiver notified."""
        return self.between("injected", "notified:")

    @property
    def time_to_resolve(self) -> float | None:
        """Remediation applied -> the last expected receiver got the resolved notice."""
        return self.between("remediated", "resolved-notified:")

    @property
    def time_to_mitigate(self) -> float | None:
        """The first firing notification (people paged) -> the watched signal back on its healthy side."""
        paged = [e.at for e in self.events if e.name.startswith("notified:")]
        mitigated = self.first("mitigated")
        return mitigated.at - min(paged) if paged and mitigated and mitigated.at >= min(paged) else None

    def notified_after(self, status: str = "firing") -> dict[str, float]:
        """Receiver -> seconds from the fault (firing) or from the remediation (resolved) to its notice."""
        start, prefix = ("injected", "notified:") if status == "firing" else ("remediated", "resolved-notified:")
        origin = self.last(start)
        if origin is None:
            return {}
        return {e.name.split(":", 1)[1]: round(e.at - origin.at, 3) for e in self.events
                if e.name.startswith(prefix) and e.at >= origin.at}

    def as_dict(self) -> dict:
        d = asdict(self)
        d["time_to_fire"] = self.time_to_fire
        d["time_to_resolve"] = self.time_to_resolve
        d["time_to_mitigate"] = self.time_to_mitigate
        d["notified_after"] = self.notified_after("firing")
        d["resolved_notified_after"] = self.notified_after("resolved")
        d["fire_ratio"] = ratio(self.time_to_fire, self.fire_floor)
        d["resolve_ratio"] = ratio(self.time_to_resolve, self.resolve_floor)
        start = self.events[0].at if self.events else None
        for e in d["events"]:
            e["t"] = round(e["at"] - start, 3) if start else 0.0
        return d

    @property
    def file_stem(self) -> str:
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.scenario)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.file_stem}.json"
        path.write_text(json.dumps(self.as_dict(), indent=2))
        return path


def ratio(value: float | None, floor: float | None) -> float | None:
    if value is None or not floor:
        return None
    return value / floor


def quiet_label(scenario: str) -> str:
    """A quiet drill as the summaries name it: "quiet: hang_ups" (test_quiet_hang_ups), or its variant
    when the test id carries one ("quiet [quiet-hang-ups-counted-as-errors]", a breakage row)."""
    stem, _, variant = scenario.partition("[")
    return f"quiet [{variant.rstrip(']')}]" if variant else f"quiet: {stem.removeprefix('test_quiet_')}"


def _label(t: Timeline) -> str:
    """The alert's name, plus the scenario's variant when the test id carries one (e.g. [replay]); a
    quiet drill's scenario."""
    if t.kind == "quiet":
        return quiet_label(t.scenario)
    variant = t.scenario.split("[", 1)[1].rstrip("]") if "[" in t.scenario else ""
    return f"{t.alert} [{variant}]" if variant else t.alert


def _outcome(t: Timeline) -> str:
    if t.broken_on_purpose:
        return "caught" if t.outcome == "failed" else "MISSED"
    return t.outcome


def summary_table(timelines: list[Timeline]) -> str:
    def fmt(v: float | None, unit: str = "s") -> str:
        return "-" if v is None else f"{v:.1f}{unit}"

    header = (f"{'alert':<34} {'outcome':<8} {'fire':>7} {'floor':>6} {'ratio':>6} {'resolve':>8} {'floor':>6} "
              f"{'ratio':>6}  notices")
    lines = [header, "-" * len(header)]
    for t in timelines:
        alert = t.kind != "quiet"  # a quiet drill has no alert to time: its figures show as "-"
        fire, fire_floor = (t.time_to_fire, t.fire_floor) if alert else (None, None)
        resolve, resolve_floor = (t.time_to_resolve, t.resolve_floor) if alert else (None, None)
        lines.append(
            f"{_label(t)[:34]:<34} {_outcome(t):<8} {fmt(fire):>7} {fmt(fire_floor):>6} "
            f"{fmt(ratio(fire, fire_floor), 'x'):>6} {fmt(resolve):>8} "
            f"{fmt(resolve_floor):>6} {fmt(ratio(resolve, resolve_floor), 'x'):>6}  {noise.describe(t.noise)}"
        )
    if any(t.broken_on_purpose for t in timelines):
        lines.append("caught: a drill against deliberately broken alerting failed, as it must")
    return "\n".join(lines)
