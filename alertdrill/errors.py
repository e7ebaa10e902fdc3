"""The suite's exceptions. Each message says what was expected, what was seen and what to try."""
from __future__ import annotations


class DrillError(AssertionError):
    """A drill check failed. Subclasses AssertionError so pytest reports it as a test failure."""

    def __init__(self, what: str, *, expected: str = "", seen: str = "", hint: str = "") -> None:
        self.what, self.expected, self.seen, self.hint = what, expected, seen, hint
        self.also_broken: list[str] = []
        super().__init__(self.render())

    def also(self, broken: list[str]) -> "DrillError":
        """Name the other promises the same drill broke (alertdrill.engine.verdicts), after this one."""
        self.also_broken += [b for b in broken if b not in self.also_broken and b != self.what]
        self.args = (self.render(),)
        return self

    def render(self) -> str:
        lines = [self.what]
        for other in getattr(self, "also_broken", []):
            lines.append(f"  also broken: {other}")
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.seen:
            lines.append("  last seen:")
            lines.extend(f"    {line}" for line in self.seen.splitlines())
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)


class SteadyStateError(DrillError):
    """The stack was not healthy, or an alert was already firing, before the fault."""


class AlertNotFired(DrillError):
    """The expected alert did not reach `firing` with the expected labels in time."""


class NotificationMissing(DrillError):
    """The alert fired but a receiver the routing names never got the notification."""


class NotificationLate(NotificationMissing):
    """A receiver's notice came, but later than the runbook's deadline for it."""


class UnexpectedAlert(DrillError):
    """A critical alert the scenario did not name fired during the drill."""


class FalseAlarm(DrillError):
    """A quiet drill's benign noise made alerting speak: an alert fired, a paging alert went pending,
    someone was notified, or a server-fault counter rose (alertdrill.engine.quiet)."""


class InvestigationFailed(DrillError):
    """The runbook's investigation did not show what the fault should have caused, or the runbook
    lacks a step the drill needs."""


class NotInhibited(InvestigationFailed):
    """An alert the runbook says is inhibited reached Alertmanager while its source fired there, and
    Alertmanager does not count it inhibited."""


class AlertNotResolved(DrillError):
    """After the remediation the alert kept firing, or the resolved notice never came."""


class InvariantViolated(DrillError):
    """Something was lost or applied twice."""


class TooNoisy(DrillError):
    """The drill delivered more notifications than --max-notifications allows (alertdrill.engine.noise)."""


class DrillAborted(DrillError):
    """The drill was stopped before its end: its maximum duration passed, an abort condition held (an
    unrelated critical alert, a failing health probe), or the people on call never mitigated. Its
    faults heal as on any other ending; the timeline's outcome is `aborted`."""


class StackError(RuntimeError):
    """The container stack could not be started, reached or stopped."""


class ConfigError(ValueError):
    """A suite option or file is invalid; the message lists what is valid."""


def require(condition: bool, what: str, *, expected: str, seen: str, hint: str = "",
            error: type[DrillError] = InvariantViolated) -> None:
    """Raise `error` (an invariant that failed, by default) unless condition holds."""
    if not condition:
        raise error(what, expected=expected, seen=seen, hint=hint)


def require_evidence(condition: bool, what: str, *, expected: str, seen: str, hint: str = "") -> None:
    """The investigation's form of require: raises InvestigationFailed."""
    require(condition, what, expected=expected, seen=seen, hint=hint, error=InvestigationFailed)


class FaultNotWritten(DrillError):
    """A scaffolded scenario (`alertdrill init`) whose fault is still to be written: it fails, never
    passes silently."""

    def __init__(self, alert: str, watches: str, path: str = "") -> None:
        super().__init__(
            f"the drill of {alert} has no fault yet: it was scaffolded by `alertdrill init`",
            expected=f"a fault in run() that makes `{watches}` true, injected with d.inject(...)",
            seen="the placeholder `raise FaultNotWritten(...)`" + (f" in {path}" if path else ""),
            hint="write the fault (alertdrill.engine.faults: StopContainer, KillContainer, Toxic, ... or your "
                 "own Fault with inject(ctx)/heal(ctx)) and delete the placeholder line")


class DockerDaemonGone(DrillError):
    """The Docker daemon stopped answering, or restarted the stack's containers, during the drill: the
    verdict says nothing about the alerting."""
