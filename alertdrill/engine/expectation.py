"""What a scenario expects of its alert: the runbook's promise for it (name, severity, receivers, the
labels of the instance the fault raises), the expression to watch while waiting, and the other alerts
the fault may raise too, each with its reason."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AlertExpectation:
    alertname: str
    severity: str
    receivers: frozenset[str]
    labels: dict[str, str] = field(default_factory=dict)
    # The PromQL to show while waiting, written for production (`[5m]`, as in the rule and the runbook):
    # the drill shows and queries it at its own speed (alertdrill.alerting.timings.Timings.scale_expr).
    watch: str = ""
    threshold: str = ""  # e.g. "== 0", "> 1"
    side_effects: dict[str, str] = field(default_factory=dict)  # alert -> why this fault raises it too

    def instance(self, labels: dict) -> bool:
        """An instance of this alert that the scenario is about (e.g. route="/signals"), whatever its
        severity; instances of the same alert for another route are not ours."""
        return all(labels.get(k) == v for k, v in self.labels.items())

    def matches(self, labels: dict) -> bool:
        """The instance carries the promised severity and labels."""
        want = {"severity": self.severity, **self.labels}
        return all(labels.get(k) == v for k, v in want.items())
