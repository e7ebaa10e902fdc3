"""Read-only observation of the monitoring during a drill: the expected alert's states in Prometheus,
the watched value, other alerts, the notifications each receiver got, the containers, and what stands
between the stack and steady state. Nothing here changes anything or waits; the drill's phases
(alertdrill.engine.drill) decide what the observations mean.

A new check of what Prometheus, Alertmanager or the sink shows goes here.
"""
from __future__ import annotations

import time

import httpx

from alertdrill.config import current as current_config
from alertdrill.engine.context import DrillContext
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.errors import AlertNotFired
from alertdrill.runbook import links
from alertdrill.target.clients.prometheus import AlertState, PrometheusError
from alertdrill.target.clients.sink import Notification
from alertdrill.target import health
from alertdrill.target.clients.timestamps import epoch
from alertdrill.target.settings import SERVICES

MONITORING_ERRORS = (PrometheusError, httpx.HTTPError)
# A rule group reads the samples stamped up to its scheduled tick, and starts (the `lastEvaluation` the
# API shows) a moment after that tick: an evaluation counts as having seen a scrape only when it started
# this long after the scrape ended, so a tick that came late still falls after the scrape began.
EVALUATION_JITTER_S = 0.1


class Evaluated:
    """Whether Prometheus has scraped every target since `since` and evaluated every rule group after
    those scrapes ended, told from its API at successive looks: the alert states it shows afterwards
    were computed from the stack as it has been since then. The API shows only each target's latest
    scrape, so the first look that finds every target scraped since `since` marks when those scrapes had
    ended, and later evaluations are judged against that mark."""

    def __init__(self, since: float) -> None:
        self.since = since
        self.scraped_by: float | None = None

    def look(self, targets: list[dict], groups: list[dict]) -> bool | None:
        """None when there is nothing to tell it by (no target or no rule group)."""
        if not targets or not groups:
            return None
        if self.scraped_by is None:
            if min(_at(t["lastScrape"]) for t in targets) < self.since:
                return False
            self.scraped_by = max(_at(t["lastScrape"]) + float(t.get("lastScrapeDuration") or 0) for t in targets)
        return all(_at(g["lastEvaluation"]) >= self.scraped_by + EVALUATION_JITTER_S for g in groups)


def _at(stamp: str) -> float:
    """Epoch seconds; Go's zero time (a group not yet evaluated, a target not yet scraped) as long ago."""
    return epoch(stamp) or 0.0


def since_range(since: float) -> str:
    """A PromQL range reaching back to `since` (whole seconds, rounded up): `max_over_time(x[...])`."""
    return f"{max(1, int(time.time() - since) + 1)}s"


class Observer:
    def __init__(self, ctx: DrillContext, expect: AlertExpectation, started: float) -> None:
        self.ctx, self.expect, self.started = ctx, expect, started
        self.watch = ctx.timings.scale_expr(expect.watch) if expect.watch else ""

    # -- the expected alert --------------------------------------------------------------------------
    def loaded_rule(self) -> dict:
        """The alerting rule as Prometheus loaded it; AlertNotFired if there is none by that name."""
        rules = self.ctx.prometheus.rules()
        found = [r for r in rules if r["name"] == self.expect.alertname]
        if not found:
            raise AlertNotFired(
                f"Prometheus has no alerting rule named {self.expect.alertname}",
                expected=f"a loaded rule {self.expect.alertname}",
                seen=f"loaded alerting rules: {', '.join(sorted({r['name'] for r in rules})) or 'none'}",
                hint="was the alert renamed or its rules file not loaded? "
                     f"See {self.ctx.endpoints.prometheus}/rules")
        return found[0]

    def alert_states(self) -> list[AlertState]:
        """Prometheus' instances of the expected alert that this scenario is about."""
        return [a for a in self.ctx.prometheus.alerts()
                if a.name == self.expect.alertname and self.expect.instance(a.labels)]

    def scrape_gaps(self, window_s: float) -> list[str]:
        """Scrape targets, up at some point in this drill, that were down within the last `window_s`.
        While a target is away its series go stale and a rule's window empties, so the alert goes
        inactive on no data; at drill speed a restart inside the remediation (seconds under load) can
        outlast a 10 s window, which a 5 m production window never empties for."""
        expr = (f"min_over_time(up[{max(int(window_s * 1000), 1000)}ms]) == 0 "
                f"and on(job, instance) max_over_time(up[{since_range(self.started)}]) == 1")
        return sorted({s.labels.get("job", s.labels.get("instance", "?")) for s in self.ctx.prometheus.query(expr)})

    def watched_value(self) -> float | None:
        return self.ctx.prometheus.value(self.watch) if self.watch else None

    def watched(self) -> str:
        if not self.watch:
            return ""
        try:
            value = self.watched_value()
        except MONITORING_ERRORS as exc:
            return f"{self.watch} -> error {exc}"
        shown = "no data" if value is None else f"{value:.3g}"
        return f"{self.watch} = {shown}" + (f" (alert when {self.expect.threshold})" if self.expect.threshold else "")

    def notifications(self, status: str | None, since: float) -> list[Notification]:
        """Notifications of the expected alert's instance (with `status`, if given) received since `since`."""
        return [n for n in self.ctx.sink.notifications(alertname=self.expect.alertname, status=status, since=since)
                if self.expect.instance(n.labels)]

    # -- other alerts --------------------------------------------------------------------------------
    def unexpected_firing(self) -> list[AlertState]:
        """Alerts firing now, of any severity, that are neither the expected one nor a named side effect."""
        allowed = set(self.expect.side_effects) | {self.expect.alertname}
        return [a for a in self.ctx.prometheus.alerts() if a.state == "firing" and a.name not in allowed]

    def fired_since(self, since: float) -> dict[str, set[str]]:
        """Every alert that was firing at some evaluation since `since` (Prometheus' ALERTS history),
        name -> severities: what happened between two looks of the drill is not missed."""
        found: dict[str, set[str]] = {}
        for s in self.ctx.prometheus.query(f'max_over_time(ALERTS{{alertstate="firing"}}[{since_range(since)}])'):
            found.setdefault(s.labels.get("alertname", ""), set()).add(s.labels.get("severity", ""))
        return found

    def side_effects_paged(self, since: float) -> dict[str, set[str]]:
        """Named side effects that reached a receiver since `since`: alert -> receivers."""
        out: dict[str, set[str]] = {}
        for n in self.ctx.sink.notifications(status="firing", since=since):
            if n.alertname in self.expect.side_effects:
                out.setdefault(n.alertname, set()).add(n.receiver)
        return out

    # -- for failure messages ------------------------------------------------------------------------
    def situation(self) -> str:
        """Alert states, the watched value, containers and notifications, as a failure shows them."""
        lines = []
        try:
            alerts = self.ctx.prometheus.alerts()
            mine = [a for a in alerts if a.name == self.expect.alertname and self.expect.instance(a.labels)]
            lines.append(f"{self.expect.alertname}: " + (", ".join(f"{a.state} {a.labels}" for a in mine)
                                                          or "inactive"))
            lines.append("other alerts: " + (", ".join(
                f"{a.name} {a.state} severity={a.labels.get('severity')}" for a in alerts
                if a.name != self.expect.alertname) or "none"))
            if self.watch:
                lines.append(self.watched())
        except MONITORING_ERRORS as exc:
            lines.append(f"Prometheus unreachable: {exc}")
        lines.append("containers: " + ", ".join(f"{n}={s}" for n, s in self.ctx.stack.states(SERVICES).items()))
        try:
            notes = self.ctx.sink.notifications(since=self.started)
            lines.append("notifications since the drill began: " + ("; ".join(n.describe() for n in notes) or "none"))
        except httpx.HTTPError as exc:
            lines.append(f"alert sink unreachable: {exc}")
        return "\n".join(lines)

    # -- steady state --------------------------------------------------------------------------------
    def evaluated(self, since: Evaluated) -> bool | None:
        """One look for `since` (see Evaluated); None when Prometheus cannot tell, or cannot be reached."""
        try:
            return since.look(self.ctx.prometheus.targets(), self.ctx.prometheus.rule_groups())
        except (*MONITORING_ERRORS, KeyError, ValueError):  # an API of another shape: the fixed hold decides
            return None

    def active_alerts(self, tolerate_pending: frozenset[str] = frozenset()) -> list[str]:
        """Every alert pending or firing in Prometheus now, as "name (state)"; those named in
        `tolerate_pending` may be pending."""
        return [f"{a.name} ({a.state})" for a in self.ctx.prometheus.alerts()
                if not (a.state == "pending" and a.name in tolerate_pending)]

    def steady_problems(self, tolerate_pending: frozenset[str] = frozenset()) -> list[str]:
        """What keeps the stack from steady state now ([] when steady): the target's health
        (alertdrill.target.health) and any alert active. Alerts named in `tolerate_pending` may still be
        pending (a drill's own side effects, winding down)."""
        conf = current_config()
        problems = health.containers(self.ctx.stack, SERVICES) + health.readiness(self.ctx.endpoints, conf)
        problems += health.platform_checks(self.ctx)
        try:
            active = self.active_alerts(tolerate_pending)
            if active:
                problems.append("alerts active in Prometheus: " + ", ".join(active))
            am_active = [a["labels"]["alertname"] for a in self.ctx.alertmanager.alerts()]
            if am_active:
                problems.append("alerts active in Alertmanager: " + ", ".join(am_active))
        except MONITORING_ERRORS as exc:
            problems.append(f"monitoring unreachable: {exc}")
        return problems


def notice_problems(notes, alert: str, runbook) -> list[str]:
    """What people would miss in the notices they got: a summary and a description, and a runbook_url
    that leads to this runbook and to `alert`'s section in it. One line per problem."""
    problems = []
    for n in notes:
        ann = n.annotations or {}
        missing = [k for k in ("summary", "description", "runbook_url") if not str(ann.get(k, "")).strip()]
        if missing:
            problems.append(f"{n.receiver}: the notice has no {', '.join(missing)}")
        url = str(ann.get("runbook_url", ""))
        if url:
            problems += [f"{n.receiver}: {p}" for p in runbook_link_problems(url, alert, runbook)]
    return problems


def runbook_link_problems(url: str, alert: str, runbook) -> list[str]:
    """Whether `url` leads where a person on call must land: its path ends with the runbook's own path
    (relative to the project, e.g. docs/runbook.md) and its anchor is `alert`'s section of it."""
    return links.link_problems(url, alert, runbook, current_config().root)


def runbook_path(runbook) -> str:
    """The runbook's path as a link names it: relative to the project's root, else its file name."""
    return links.runbook_path(runbook, current_config().root)
