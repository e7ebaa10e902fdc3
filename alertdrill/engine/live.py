"""The live view of the drills while they wait, as a DrillEventHandler: one status line per drill
(phase, time left, the watched value against its threshold, receivers notified so far). In a terminal
the line updates in place (rich); elsewhere (CI, a pipe) it is printed as a plain line when it changes
(a new phase, a notification) or every PLAIN_EVERY_S seconds, instead of a line every two seconds."""
from __future__ import annotations

import time
from typing import Callable

from alertdrill.engine.events import DrillEventHandler

PLAIN_EVERY_S = 10.0


class DrillStatus:
    """What one drill's status line shows."""

    def __init__(self, drill) -> None:
        self.alert = drill.expect.alertname
        self.threshold = drill.expect.threshold
        self.phase, self.left, self.value = "starting", None, None
        self.notified: list[str] = []
        self.outcome = ""

    def text(self) -> str:
        left = f"{self.left:4.0f}s left" if self.left is not None else "        "
        value = "-" if self.value is None else f"{self.value:.3g}"
        notified = ", ".join(self.notified) or "none"
        head = f"{self.alert:<24} {self.outcome or self.phase[:30]:<30}"
        bound = f" (alert when {self.threshold})" if self.threshold else ""  # a quiet drill alerts on nothing
        return f"{head} {left}  value {value}{bound}  notified: {notified}"


class LiveView(DrillEventHandler):
    """`show(text, final)` writes a status line: in place while not final (terminal), or as a line."""

    def __init__(self, show: Callable[[str, bool], None], *, in_place: bool) -> None:
        self.show, self.in_place = show, in_place
        self.status: DrillStatus | None = None
        self._last_text, self._last_at = "", 0.0

    def _update(self, changed: bool) -> None:
        if self.status is None:
            return
        text = self.status.text()
        now = time.monotonic()
        if self.in_place or changed or now - self._last_at >= PLAIN_EVERY_S:
            if text != self._last_text or not self.in_place:
                self.show(text, False)
            self._last_text, self._last_at = text, now

    def drill_started(self, drill) -> None:
        self.status = DrillStatus(drill)
        self._update(True)

    def phase_started(self, drill, phase) -> None:
        if self.status:
            self.status.phase, self.status.left = phase.name, None
        self._update(True)

    def marked(self, drill, event) -> None:
        if self.status and event.name.startswith("notified:"):
            self.status.notified.append(event.name.split(":", 1)[1])
            self._update(True)

    def sampled(self, drill, at, value) -> None:
        if self.status:
            self.status.value = value
        self._update(False)

    def progress(self, drill, status, left_s) -> None:
        if self.status:
            self.status.left = left_s
        self._update(False)

    def drill_ended(self, drill) -> None:
        if self.status:
            self.status.outcome, self.status.left = drill.timeline.outcome, None
            self.show(self.status.text(), True)
        self.status = None


class RichLine:
    """A terminal line that updates in place (rich.live), the drill's other lines printed above it.
    `guard` is a context manager that lets output reach the terminal (pytest's capture suspended)."""

    def __init__(self, guard) -> None:
        from rich.console import Console

        self.guard = guard
        self.console = Console(highlight=False)
        self.live = None

    def show(self, text: str, final: bool) -> None:
        from rich.live import Live
        from rich.text import Text

        with self.guard():
            if self.live is None:
                self.live = Live(console=self.console, auto_refresh=False, transient=True)
                self.live.start()
            self.live.update(Text(text, style="bold"), refresh=True)
            if final:
                self.live.stop()
                self.live = None
                self.console.print(Text(text), soft_wrap=True)

    def print(self, line: str) -> None:
        with self.guard():
            if self.live is not None:
                self.live.console.print(line, markup=False, soft_wrap=True)
            else:
                self.console.print(line, markup=False, soft_wrap=True)
