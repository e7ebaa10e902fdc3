"""Reporting through event handlers (as chaostoolkit's RunEventHandler): the drill tells every handler
on `ctx.handlers` what happens, and a handler shows it (a live terminal view), keeps it (a report) or
acts on it. Every method is optional: implement the ones you need.

A new way to show or keep what a drill does goes here, as a handler.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alertdrill.engine.drill import Drill
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
