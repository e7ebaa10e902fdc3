"""The one timing model: the production durations of the rules and the Alertmanager timers, the drill
factor, and every figure a drill derives from them (windows, floors, deadlines, holds).

Everything is read from the production files, never from the running stack: the stack is what is under
test, so a mutated rule or route cannot move its own deadline. Names carry their unit (`_s`, `_ms`).

A new timing rule goes here, as a method of `Timings` that says in its docstring what it counts.

    t = Timings.from_files(30)
    t.window_s("HighAPILatency")        # 10.0 (5m / 30)
    t.scale_expr("rate(x[5m])")         # "rate(x[10s])"
    t.fire_floor_s("RedisDisconnected") # window + scrape + evaluation + for + group_wait, in drill seconds
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import yaml

from alertdrill.alerting.durations import format_ms, parse_ms
from alertdrill.alerting.timescale import (DRILL_EVALUATION_INTERVAL, DRILL_SCRAPE_INTERVAL, as_factor,
                                           fmt_factor, range_windows, rule_files, scale_expr, scale_ms)
from alertdrill.config import current as current_config

if TYPE_CHECKING:
    from alertdrill.runbook.promises import Promises

# Prometheus resends firing alerts every --rules.alert.resend-delay (1m in production).
PRODUCTION_RESEND_DELAY_MS = 60_000
# What the floors count, as the plan, the summary and the report say it.
FLOORS = ("floor: fire = window + scrape + evaluation + for + group_wait; "
          "resolve = scrape + evaluation + group_interval")


@dataclass(frozen=True)
class Deadline:
    """A figure a drill waits for, and the sentence that says where it comes from. A deadline set by hand
    (--fire-timeout, --resolve-timeout) wins over the model's, and says so."""

    seconds: float
    why: str

    @classmethod
    def chosen(cls, override: float | None, option: str, model: "Deadline") -> "Deadline":
        if override:
            return cls(override, f"{override:g}s, set by hand with {option} (the model says {model.why})")
        return model


@dataclass(frozen=True)
class RuleTiming:
    """One alerting rule's production durations."""

    alert: str
    expr: str
    for_ms: int
    windows_ms: tuple[int, ...]  # range-selector windows of the expression


@dataclass(frozen=True)
class Timings:
    factor: Fraction
    scrape_ms: int  # the drill stack's scrape and evaluation intervals (not divided: set outright)
    evaluation_ms: int
    rules: Mapping[str, RuleTiming]
    root_route_ms: Mapping[str, int]  # production group_wait, group_interval, repeat_interval

    @classmethod
    def from_files(cls, factor: Any, rules_path: str | Path | list | None = None,
                   alertmanager_path: str | Path | None = None, *,
                   scrape_interval: str = DRILL_SCRAPE_INTERVAL,
                   evaluation_interval: str = DRILL_EVALUATION_INTERVAL) -> "Timings":
        """The timing model of the rules (a file, a directory or a list of files; default: the configured
        rule files) and the Alertmanager configuration (default: the configured one)."""
        cfg = current_config() if rules_path is None or alertmanager_path is None else None
        rules_path = list(cfg.rules) if rules_path is None else rules_path
        alertmanager_path = cfg.alertmanager if alertmanager_path is None else alertmanager_path
        rules: dict[str, RuleTiming] = {}
        for path in rule_files(rules_path):
            for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []:
                for rule in group.get("rules") or []:
                    if rule.get("alert"):
                        expr = str(rule.get("expr", ""))
                        rules[rule["alert"]] = RuleTiming(rule["alert"], expr, parse_ms(rule.get("for") or "0s"),
                                                          tuple(range_windows(expr)))
        route = (yaml.safe_load(Path(alertmanager_path).read_text()) or {}).get("route") or {}
        # Alertmanager's own defaults where the root route leaves a timer out.
        defaults = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}
        root = {k: parse_ms(route.get(k) or v) for k, v in defaults.items()}
        return cls(as_factor(factor), parse_ms(scrape_interval), parse_ms(evaluation_interval), rules, root)

    # -- scaling ----------------------------------------------------------------------------------
    def drill_ms(self, production_ms: int) -> int:
        """A production duration at the drill's speed (nearest ms, never 0 for a non-zero duration)."""
        return scale_ms(production_ms, self.factor)

    def drill_s(self, production_ms: int) -> float:
        return self.drill_ms(production_ms) / 1000

    def scale_expr(self, expr: str) -> str:
        """A production PromQL expression with its windows, subqueries and offsets at the drill's speed,
        by the same scaling the rendered rules get: watch queries and the runbook's investigation
        queries are written for production and shown compressed."""
        return scale_expr(expr, self.factor) if self.factor != 1 else expr

    @property
    def label(self) -> str:
        return f"x{fmt_factor(self.factor)}"

    # -- per alert ----------------------------------------------------------------------------------
    def rule(self, alert: str) -> RuleTiming:
        try:
            return self.rules[alert]
        except KeyError:
            raise KeyError(f"no alerting rule named {alert} in the production rules; they define: "
                           f"{', '.join(sorted(self.rules)) or 'none'}") from None

    def for_s(self, alert: str) -> float:
        return self.drill_s(self.rule(alert).for_ms)

    def window_s(self, alert: str) -> float:
        """The rule's longest range window at drill speed (0 for a rule without one)."""
        return self.drill_s(max(self.rule(alert).windows_ms, default=0))

    # -- the pipeline ---------------------------------------------------------------------------------
    @property
    def scrape_s(self) -> float:
        return self.scrape_ms / 1000

    @property
    def evaluation_s(self) -> float:
        return self.evaluation_ms / 1000

    @property
    def group_wait_s(self) -> float:
        return self.drill_s(self.root_route_ms["group_wait"])

    @property
    def group_interval_s(self) -> float:
        return self.drill_s(self.root_route_ms["group_interval"])

    @property
    def resend_delay_ms(self) -> int:
        return max(self.drill_ms(PRODUCTION_RESEND_DELAY_MS), self.evaluation_ms)

    def pipeline_floor_s(self, alert: str) -> float:
        """Earliest notification once the rule's condition holds: scrape + evaluation + `for` + group_wait."""
        return self.scrape_s + self.evaluation_s + self.for_s(alert) + self.group_wait_s

    def fire_floor_s(self, alert: str) -> float:
        """Notification after a fault that moves the signal at once: the rule's window filling with the
        fault's samples (a rate or a quantile over [5m] shows it in full only once the window holds
        nothing older), then the pipeline: window + scrape + evaluation + `for` + group_wait. A fault far
        past the threshold crosses it before the window is full, so a drill can beat this floor."""
        return self.window_s(alert) + self.pipeline_floor_s(alert)

    @property
    def resolve_floor_s(self) -> float:
        """Earliest resolved notice after the cause is gone: scrape + evaluation + group_interval."""
        return self.scrape_s + self.evaluation_s + self.group_interval_s

    def floors(self, alert: str, promises: "Promises | None" = None) -> tuple[float, float]:
        """(fire floor, resolve floor) the report compares a drill with: the runbook's promise where it has
        one (its window and `for`, its first receiver's group_wait and group_interval), so an edited rule
        or route cannot move the floor it is measured against; the production files' otherwise."""
        p = promises.alerts.get(alert) if promises else None
        if p is None or not p.receivers or p.receivers[0] not in promises.timers:
            return self.fire_floor_s(alert), self.resolve_floor_s
        timers = promises.receiver_timers(p.receivers[0])
        pipeline = self.scrape_s + self.evaluation_s
        return (self.drill_s(p.window_ms) + pipeline + self.drill_s(p.for_ms) + self.drill_s(timers.group_wait_ms),
                pipeline + self.drill_s(timers.group_interval_ms))

    def fire_deadline_s(self, alert: str) -> float:
        return self.fire_deadline(alert).seconds

    def fire_deadline(self, alert: str, override: float | None = None) -> Deadline:
        """How long a drill waits for the alert to fire and reach its receivers: three floors (a late
        scrape, an evaluation straddling the threshold) plus the window filling up, plus 20 s."""
        floor, window = self.pipeline_floor_s(alert), self.window_s(alert)
        model = Deadline(3 * floor + window + 20, f"3 x the floor {floor:g}s + the {window:g}s window filling + 20 s")
        return Deadline.chosen(override, "--fire-timeout", model)

    def resolve_deadline_s(self, alert: str) -> float:
        return self.resolve_deadline(alert).seconds

    def resolve_deadline(self, alert: str, override: float | None = None) -> Deadline:
        """How long a drill waits for the alert to resolve and the resolved notices to arrive: three
        floors plus the window draining, plus 30 s (a restart inside the remediation)."""
        floor, window = self.resolve_floor_s, self.window_s(alert)
        model = Deadline(3 * floor + window + 30, f"3 x the resolve floor {floor:g}s + the {window:g}s window "
                                                  "draining + 30 s for a restart")
        return Deadline.chosen(override, "--resolve-timeout", model)

    def mitigate_deadline_s(self, alert: str) -> float:
        return self.mitigate_deadline(alert).seconds

    def mitigate_deadline(self, alert: str, override: float | None = None) -> Deadline:
        """How long the alert's own condition may go on holding after the remediation: the window
        draining of the fault's samples, two scrapes and two evaluations, plus 30 s (a restart inside the
        remediation). A remediation that removed the cause shows by then, whatever the notices do later;
        the resolve deadline adds the resolved notices on top (three resolve floors). A resolve timeout
        set by hand is the only bound on recovery, so it bounds this too."""
        window = self.window_s(alert)
        drains = f"the {window:g}s window draining, " if window else ""
        model = Deadline(window + 2 * (self.scrape_s + self.evaluation_s) + 30,
                         f"{drains}two scrapes and evaluations, 30 s for a restart")
        return Deadline.chosen(override, "--resolve-timeout", model)

    @property
    def deadline_margin_s(self) -> float:
        """What the drill allows beyond the runbook's promise: two evaluation intervals (a `for` that
        straddles evaluations, the alert sent at the evaluation after it fires) and 2 s for the
        drill's own polling and the webhook."""
        return 2 * self.evaluation_s + 2

    def notify_deadline_s(self, for_ms: int, group_wait_ms: int) -> float:
        return self.notify_deadline(for_ms, group_wait_ms).seconds

    def notify_deadline(self, for_ms: int, group_wait_ms: int) -> Deadline:
        """The runbook's promise for a receiver's first notice, at drill speed: after the condition
        starts to hold, `for` + scrape + evaluation + group_wait, plus the margin. The durations come
        from the runbook (production), not from the configuration under test."""
        f, gw = self.drill_s(for_ms), self.drill_s(group_wait_ms)
        total = f + self.scrape_s + self.evaluation_s + gw + self.deadline_margin_s
        return Deadline(total, f"for {f:g}s + scrape {self.scrape_s:g}s + evaluation {self.evaluation_s:g}s + "
                               f"group_wait {gw:g}s + margin {self.deadline_margin_s:g}s = {total:g}s ({self.label} of "
                               "the runbook's promise)")

    def resolved_notice_deadline(self, group_interval_ms: int) -> Deadline:
        """The runbook's promise for a receiver's resolved notice, at drill speed: after the watched value
        is back on its healthy side, scrape + evaluation + group_interval (the group's next flush), plus
        the margin. group_interval is the runbook's (production), never the configuration's under test."""
        gi = self.drill_s(group_interval_ms)
        total = self.scrape_s + self.evaluation_s + gi + self.deadline_margin_s
        return Deadline(total, f"scrape {self.scrape_s:g}s + evaluation {self.evaluation_s:g}s + group_interval "
                               f"{gi:g}s + margin {self.deadline_margin_s:g}s = {total:g}s ({self.label} of the "
                               "runbook's promise)")

    def resolved_hold_s(self, for_ms: int) -> float:
        """After the alert resolves it must stay resolved this long to count as recovered: one `for`
        at drill speed (long enough to fire again if the cause were still there) and at least two
        evaluations."""
        return max(self.drill_s(for_ms), 2 * self.evaluation_s) + self.evaluation_s

    def quiet_hold_s(self, alerts) -> float:
        """How long a quiet drill's noise runs (alertdrill.engine.quiet): past the longest window + `for` of
        the alerts it could touch, then scrape + evaluation + group_wait and the margin, by when a notice
        of any of them would have gone out had the noise held it past its threshold."""
        longest = max((self.window_s(a) + self.for_s(a) for a in alerts), default=0.0)
        return longest + self.scrape_s + self.evaluation_s + self.group_wait_s + self.deadline_margin_s

    @property
    def steady_hold_s(self) -> float:
        """How long steady state must hold at most: a rule reloaded a moment ago, or a window still
        holding the last fault's samples, shows at its next evaluation, so two evaluations plus a second.
        A drill ends the hold sooner once Prometheus shows every target scraped and every rule group
        evaluated since the stack looked steady (alertdrill.engine.observe.Evaluated)."""
        return 2 * self.evaluation_s + 1

    def describe(self, alert: str) -> str:
        return (f"for {self.for_s(alert):g}s, window {self.window_s(alert):g}s, "
                f"fire floor {self.fire_floor_s(alert):g}s, deadline {self.fire_deadline_s(alert):g}s")

    @property
    def compose_env(self) -> dict[str, str]:
        """Prometheus' resend delay (a command-line flag) for `docker compose up`; its intervals are in the
        mounted drill copy (see DrillConfig.env)."""
        return {"RESEND_DELAY": format_ms(self.resend_delay_ms)}
