"""The narrow interface between the drill runner (alertdrill.engine.drill.Drill) and the helpers that
carry out its phases (steady.py, firing.py, recovery.py, human.py, abort.py): what they may read and call.
Nothing else of the runner is theirs; tests/rules/test_runner.py checks that Drill provides all of it."""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from alertdrill.engine.context import DrillContext
    from alertdrill.engine.expectation import AlertExpectation
    from alertdrill.engine.observe import Observer
    from alertdrill.engine.timeline import Phase, Timeline

PROGRESS_EVERY_S = 2.0  # a progress line (or a live-view update) every 2 s while a phase waits


class DrillRun(Protocol):
    ctx: "DrillContext"
    expect: "AlertExpectation"
    obs: "Observer"
    timeline: "Timeline"
    started: float
    run_id: str  # the run label on this drill's alerts
    POLL: float

    def report(self, line: str) -> None:
        """A line for the people watching."""

    def mark(self, name: str, detail: str = "", at: float | None = None) -> Any:
        """A timeline event, told to the event handlers."""

    def phase(self, name: str) -> AbstractContextManager["Phase"]:
        """A timed phase on the timeline."""

    def sample(self) -> tuple[float, float | None, bool]:
        """Record the watched value (and check the abort conditions): (time, value, answered)."""

    def progress(self, status: Callable[[], str]) -> Callable[[float], None]:
        """The progress callback of a wait (`alertdrill.wait.until`), showing `status()`."""

    def check_unexpected(self) -> None:
        """UnexpectedAlert if an alert the scenario did not name is firing now."""

    def mitigated(self) -> bool:
        """Whether the watched value is back on its healthy side (marked `mitigated` on the timeline)."""
