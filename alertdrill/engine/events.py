"""Reporting through event handlers (as chaostoolkit's RunEventHandler): the drill tells every handler
on `ctx.handlers` what happens, and a handler shows it (a live terminal view), keeps it (a report) or
acts on it. Every method is optional: implement the ones you need.

A new way to show or keep what a drill does goes here, as a handler.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alertdrill.engine.runner import DrillRun as Drill
    from alertdrill.engine.timeline import Event, Phase


class DrillEventHandler:
    def drill_started(self, drill: "Drill") -> None: ...

    def phase_started(self, drill: "Drill", phase: "Phase") -> None: ...

    def phase_ended(self, drill: "Drill", phase: "Phase") -> None: ...

    def marked(self, drill: "Drill", event: "Event") -> None:
        """A timeline event: injected, pending, firing, notified:<receiver>, remediated, resolved, ..."""

    def sampled(self, drill: "Drill", at: float, value: float | None) -> None:
        """The watched expression's value at `at` (unix time), None when it has no data."""

    def progress(self, drill: "Drill", status: str, left_s: float) -> None:
        """A wait's current state, `left_s` before its deadline."""

    def drill_ended(self, drill: "Drill") -> None: ...


class EventLog(DrillEventHandler):
    """Each drill's phases and events as they happen, one JSON object per line in
    <artifacts>/<drill>.events.jsonl: what another process (a CI step, `tail -f`, the reliability tier
    that interrupts a drill in a chosen phase) can follow while the drill runs. The timeline JSON is only
    written at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _write(self, drill: "Drill", record: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / f"{drill.timeline.file_stem}.events.jsonl", "a") as f:
            f.write(json.dumps({"at": round(time.time(), 3), **record}) + "\n")

    def drill_started(self, drill: "Drill") -> None:
        (self.directory / f"{drill.timeline.file_stem}.events.jsonl").unlink(missing_ok=True)
        self._write(drill, {"kind": "drill_started", "name": drill.timeline.scenario})

    def phase_started(self, drill: "Drill", phase: "Phase") -> None:
        self._write(drill, {"kind": "phase_started", "name": phase.name})

    def phase_ended(self, drill: "Drill", phase: "Phase") -> None:
        self._write(drill, {"kind": "phase_ended", "name": phase.name, "outcome": phase.outcome})

    def marked(self, drill: "Drill", event: "Event") -> None:
        self._write(drill, {"kind": "event", "name": event.name, "detail": event.detail})

    def drill_ended(self, drill: "Drill") -> None:
        self._write(drill, {"kind": "drill_ended", "name": drill.timeline.scenario, "outcome": drill.timeline.outcome})
