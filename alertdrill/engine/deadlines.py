"""The runbook's deadlines, applied to what a drill sees: when the alert's condition started to hold
(by the runbook's threshold, on the watched value), and by when each receiver's first notice is due.

The deadline runs from the start of the condition's last unbroken stretch, not from the fault: how
long a fault takes to move the signal is the platform's business; once the runbook's condition holds,
the alerting owes each receiver its notice within `for` + scrape + evaluation + group_wait (the
runbook's values, at drill speed) plus the stated margin (alertdrill.alerting.timings).
"""
from __future__ import annotations

from dataclasses import dataclass

from alertdrill.alerting.timings import Timings
from alertdrill.runbook.promises import AlertPromise, Promises


@dataclass
class PromiseClock:
    promise: AlertPromise
    deadlines_s: dict[str, float]  # receiver -> seconds after the condition holds
    holds_since: float | None = None  # start of the condition's current unbroken stretch
    onset: float | None = None  # frozen when the alert fires: the stretch that made it fire

    @classmethod
    def for_alert(cls, promises: Promises, timings: Timings, alert: str, receivers) -> "PromiseClock":
        p = promises.alert(alert)
        return cls(p, {r: timings.notify_deadline_s(p.for_ms, promises.receiver_timers(r).group_wait_ms)
                       for r in sorted(receivers)})

    def observe(self, at: float, value: float | None, *, firing: bool) -> None:
        """One sample of the watched value (None: no data, which does not hold)."""
        if self.onset is None:
            if self.promise.threshold.holds(value):
                self.holds_since = self.holds_since or at
            elif not firing:
                self.holds_since = None
        if firing and self.onset is None:
            self.onset = self.holds_since

    @property
    def start(self) -> float | None:
        return self.onset if self.onset is not None else self.holds_since

    @property
    def longest_s(self) -> float:
        return max(self.deadlines_s.values())

    def overdue(self, now: float) -> bool:
        """Every receiver's deadline has passed since the condition started to hold."""
        return self.start is not None and now - self.start > self.longest_s

    def late(self, notified_at: dict[str, float]) -> dict[str, float]:
        """Receivers whose notice came after their deadline: receiver -> seconds after the condition."""
        if self.start is None:
            return {}
        return {r: at - self.start for r, at in notified_at.items()
                if r in self.deadlines_s and at - self.start > self.deadlines_s[r]}

    def explain(self, timings: Timings, receiver: str, promises: Promises) -> str:
        return timings.notify_deadline(self.promise.for_ms, promises.receiver_timers(receiver).group_wait_ms).why
