"""What a scenario expects of its alert: the runbook's promise for it (severity, receivers, threshold and
routing labels, from the alert index), the labels of the instance the fault raises, the expression to
watch while waiting, and the other alerts the fault may raise too, each with its reason.

A scenario says only what the runbook does not: `AlertExpectation.from_runbook(alert, watch=...,
instance=..., side_effects=...)`. The drill fills in the rest from the runbook it reads (`against`), so
a drill against an edited runbook holds the platform to the edited promise."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alertdrill.runbook.promises import Promises


@dataclass(frozen=True)
class AlertExpectation:
    alertname: str
    severity: str | None = None  # None: the runbook's (against)
    receivers: frozenset[str] | None = None  # None: the runbook's
    labels: dict[str, str] = field(default_factory=dict)  # the instance's labels (+ the runbook's routing labels)
    # The PromQL to show while waiting, written for production (`[5m]`, as in the rule and the runbook):
    # the drill shows and queries it at its own speed (alertdrill.alerting.timings.Timings.scale_expr).
    watch: str = ""
    threshold: str | None = None  # e.g. "== 0", "> 1"; None: the runbook's
    side_effects: dict[str, str] = field(default_factory=dict)  # alert -> why this fault raises it too

    @classmethod
    def from_runbook(cls, alertname: str, *, watch: str = "", instance: dict[str, str] | None = None,
                     side_effects: dict[str, str] | None = None) -> "AlertExpectation":
        """What only the scenario knows: the expression it watches, the labels of the instance its fault
        raises (route="/signals"), the other alerts it raises and why. Severity, receivers, threshold and
        routing labels are the runbook's."""
        return cls(alertname, labels=dict(instance or {}), watch=watch, side_effects=dict(side_effects or {}))

    @property
    def resolved(self) -> bool:
        return None not in (self.severity, self.receivers, self.threshold)

    def against(self, promises: "Promises") -> "AlertExpectation":
        """This expectation with what it leaves to the runbook taken from `promises` (PromiseError when the
        alert index has no row for it); the instance's own labels are kept, the routing labels added."""
        if self.resolved:
            return self
        p = promises.alert(self.alertname)
        return replace(self, severity=p.severity if self.severity is None else self.severity,
                       receivers=frozenset(p.receivers) if self.receivers is None else self.receivers,
                       threshold=str(p.threshold) if self.threshold is None else self.threshold,
                       labels={**p.labels, **self.labels})

    def instance(self, labels: dict) -> bool:
        """An instance of this alert that the scenario is about (e.g. route="/signals"), whatever its
        severity; instances of the same alert for another route are not ours."""
        return all(labels.get(k) == v for k, v in self.labels.items())

    def matches(self, labels: dict) -> bool:
        """The instance carries the promised severity and labels."""
        want = {"severity": self.severity, **self.labels}
        return all(labels.get(k) == v for k, v in want.items())
