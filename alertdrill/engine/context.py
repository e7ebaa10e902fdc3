"""What every drill of a run shares: the target stack and its clients, the timing model, the parsed
runbook and its promises, where timelines go and how progress is reported. Faults, guards, remediations and checks get
it at call time."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from alertdrill.alerting.timings import Deadline, Timings
from alertdrill.config import current as current_config
from alertdrill.runbook.parse import Runbook
from alertdrill.runbook.promises import parse_promises
from alertdrill.target.clients import AlertmanagerClient, PrometheusClient, SinkClient, ToxiproxyClient
from alertdrill.target.health import load_checks
from alertdrill.target.settings import Endpoints
from alertdrill.target.stack import Stack

Reporter = Callable[[str], None]


@dataclass
class Timeouts:
    """Overrides of the timing model's deadlines (None: from the model)."""
    steady: float = 180.0
    fire: float | None = None
    resolve: float | None = None


@dataclass
class Gameday:
    """How a drill is run by people: who remediates, how long a drill may take at most, and the abort
    conditions (a health probe failing longer than its grace)."""
    remediate: str = "runbook"  # runbook: the suite runs the runbook's action | human: people on call do
    max_drill_s: float | None = None  # the whole drill, fault to invariants; None: no limit
    max_fire_ratio: float | None = None  # the regression gate: time to fire / floor
    max_notifications: int | None = None  # the noise gate: notices one drill may deliver (alertdrill.engine.noise)
    abort_on_critical: bool = False  # an unrelated critical alert stops the drill (aborted, healed)
    health_probes: tuple[str, ...] = ()  # URLs that must answer 2xx ...
    probe_grace_s: float = 30.0  # ... or the drill aborts after this long


@dataclass
class DrillContext:
    stack: Stack
    timings: Timings
    runbook: Runbook
    artifacts: Path
    timeouts: Timeouts = field(default_factory=Timeouts)
    reporter: Reporter = print
    gameday: Gameday = field(default_factory=Gameday)
    progress_lines: bool = True  # a "[..s left] waiting" line every 2 s (off under a live view)
    # DrillEventHandler instances (alertdrill.engine.events): the drills' fixture puts the event log first
    handlers: list = field(default_factory=list)
    endpoints: Endpoints = field(init=False)

    def __post_init__(self) -> None:
        self.promises = parse_promises(self.runbook)
        self.endpoints = self.stack.endpoints
        self.prometheus = PrometheusClient(self.endpoints.prometheus)
        self.alertmanager = AlertmanagerClient(self.endpoints.alertmanager)
        self.sink = SinkClient(self.endpoints.sink)
        self._toxiproxy: ToxiproxyClient | None = None  # made on first use: a platform may have no Toxiproxy
        self.timelines: list = []  # every drill's Timeline, for the summary
        # the platform's own steady-state checks ([tool.alertdrill] steady_checks: alertdrill.target.health)
        self.steady_checks = load_checks(current_config())

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        """The Toxiproxy API of Toxic and CutLink faults (ConfigError where no TOXIPROXY_PORT is configured)."""
        if self._toxiproxy is None:
            self._toxiproxy = ToxiproxyClient(self.endpoints.toxiproxy)
        return self._toxiproxy

    def with_runbook(self, runbook: Runbook) -> "DrillContext":
        """The same context reading another runbook (a drill against a deliberately broken one)."""
        if "TOXIPROXY_PORT" in self.endpoints.ports:
            self.toxiproxy  # made now, so the copy shares the one client close() closes
        other = copy.copy(self)
        other.runbook = runbook
        other.promises = parse_promises(runbook)
        return other

    def fire_deadline(self, alert: str) -> Deadline:
        return self.timings.fire_deadline(alert, self.timeouts.fire)

    def resolve_deadline(self, alert: str) -> Deadline:
        return self.timings.resolve_deadline(alert, self.timeouts.resolve)

    def mitigate_deadline(self, alert: str) -> Deadline:
        return self.timings.mitigate_deadline(alert, self.timeouts.resolve)

    def close(self) -> None:
        for client in (self.prometheus, self.alertmanager, self.sink, self._toxiproxy):
            if client is None:
                continue
            client.close()
