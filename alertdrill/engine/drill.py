"""The drill engine: steady state -> workload -> fault -> alert fires and routes -> investigation ->
remediation -> alert resolves -> steady state -> invariants. Each phase is timed and reported; faults
heal in `close()` whatever happened."""
from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import httpx
import yaml

from alertdrill.target.clients import AlertmanagerClient, DockerClient, PrometheusClient, SinkClient, ToxiproxyClient
from alertdrill.target.clients.prometheus import AlertState, PrometheusError
from alertdrill.alerting.durations import parse_duration
from alertdrill.errors import (AlertNotFired, AlertNotResolved, DrillError, InvariantViolated, NotificationMissing,
                     SteadyStateError, UnexpectedAlert)
from alertdrill.engine.faults import Fault
from alertdrill.engine.remediations import Remediation
from alertdrill.target.settings import SERVICES, Endpoints
from alertdrill.target.stack import Stack
from alertdrill.engine.timeline import Timeline

Reporter = Callable[[str], None]
AM_GROUP_REAP = 31.0  # Alertmanager's dispatcher maintenance interval (30 s) plus a margin


@dataclass
class AlertExpectation:
    """What the runbook promises for one alert."""

    alertname: str
    severity: str
    receivers: frozenset[str]
    labels: dict[str, str] = field(default_factory=dict)
    watch: str = ""  # the PromQL the rule watches, shown while waiting
    threshold: str = ""  # e.g. "== 0", "> 1"
    # Other alerts this fault is expected to raise too, with the reason (shown in reports).
    side_effects: dict[str, str] = field(default_factory=dict)


@dataclass
class Timeouts:
    steady: float = 180.0
    fire: float | None = None  # None: derived from the floor and the rule's rate window
    resolve: float | None = None


@dataclass
class DrillContext:
    """Everything a drill needs, shared by all drills of a run."""

    stack: Stack
    factor: float
    timeouts: Timeouts
    artifacts: Path
    reporter: Reporter = print
    endpoints: Endpoints = field(init=False)

    def __post_init__(self) -> None:
        self.endpoints = self.stack.endpoints
        self.prometheus = PrometheusClient(self.endpoints.prometheus)
        self.alertmanager = AlertmanagerClient(self.endpoints.alertmanager)
        self.sink = SinkClient(self.endpoints.sink)
        self.toxiproxy = ToxiproxyClient(self.endpoints.toxiproxy)
        self.docker = DockerClient()
        self.timelines: list[Timeline] = []

    def intervals(self) -> dict[str, float]:
        """The running stack's scrape/evaluation intervals and Alertmanager's root timers, in seconds."""
        prom = yaml.safe_load(httpx.get(f"{self.endpoints.prometheus}/api/v1/status/config", timeout=5)
                              .json()["data"]["yaml"])["global"]
        am = yaml.safe_load(self.alertmanager.status()["config"]["original"])["route"]
        return {
            "scrape": parse_duration(prom["scrape_interval"]),
            "eval": parse_duration(prom["evaluation_interval"]),
            "group_wait": parse_duration(am.get("group_wait", "30s")),
            "group_interval": parse_duration(am.get("group_interval", "5m")),
        }

    def close(self) -> None:
        for client in (self.prometheus, self.alertmanager, self.sink, self.toxiproxy, self.docker):
            client.close()


class Drill:
    """One scenario's run. Use as a context manager so faults always heal and the timeline is written."""

    POLL = 0.5

    def __init__(self, ctx: DrillContext, scenario: str, expectation: AlertExpectation) -> None:
        self.ctx, self.expect = ctx, expectation
        self.prom, self.am, self.sink = ctx.prometheus, ctx.alertmanager, ctx.sink
        self.timeline = Timeline(scenario=scenario, alert=expectation.alertname, factor=ctx.factor)
        self.faults: list[Fault] = []
        self.loads: list = []  # LocustLoad runs, stopped when the drill ends
        self.started = time.time()
        self._rule: dict | None = None
        self._last_progress = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "Drill":
        self.report(f"drill {self.timeline.scenario}: expecting {self.expect.alertname} "
                    f"({self.expect.severity}) -> {', '.join(sorted(self.expect.receivers))}")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.timeline.outcome = "passed" if exc_type is None else (
            "aborted" if exc_type is KeyboardInterrupt else "failed")
        try:
            self.heal_all()
        finally:
            path = self.timeline.write(self.ctx.artifacts)
            self.ctx.timelines.append(self.timeline)
            self.report(f"timeline written to {path}")

    def heal_all(self) -> None:
        errors = []
        for load in self.loads:
            try:
                load.stop()
            except Exception as exc:
                errors.append(f"load {load.name}: {exc}")
        self.loads.clear()
        for fault in reversed(self.faults):
            try:
                done = fault.heal()
                if done:
                    self.report(f"  healed: {done}")
            except Exception as exc:  # keep healing the others; report all at the end
                errors.append(f"{fault.name}: {exc}")
        self.faults.clear()
        if errors:
            raise DrillError("a fault could not be healed; the stack may be left broken",
                             seen="\n".join(errors), hint="run `make status`, then `make down` to reset")

    def report(self, line: str) -> None:
        self.ctx.reporter(line)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        from alertdrill.engine.timeline import Phase

        p = Phase(name, time.time())
        self.timeline.phases.append(p)
        try:
            yield
        except BaseException:
            p.ended, p.outcome = time.time(), "failed"
            self.report(f"  x {name} failed after {p.seconds:.1f}s")
            raise
        p.ended, p.outcome = time.time(), "ok"
        self.report(f"  v {name} ({p.seconds:.1f}s)")

    # -- evidence ------------------------------------------------------------------------------
    def rule(self) -> dict:
        if self._rule is None:
            rules = [r for r in self.prom.rules() if r["name"] == self.expect.alertname]
            if not rules:
                loaded = sorted({r["name"] for r in self.prom.rules()})
                raise AlertNotFired(
                    f"Prometheus has no alerting rule named {self.expect.alertname}",
                    expected=f"a loaded rule {self.expect.alertname}",
                    seen=f"loaded alerting rules: {', '.join(loaded) or 'none'}",
                    hint="was the alert renamed or its rules file not loaded? "
                         f"See {self.ctx.endpoints.prometheus}/rules")
            self._rule = rules[0]
        return self._rule

    def floors(self) -> tuple[float, float, float]:
        """(fire floor, resolve floor, largest range window of the rule) in seconds."""
        iv = self.ctx.intervals()
        rule = self.rule()
        windows = [parse_duration(w) for w in re.findall(r"\[([0-9smhdwy]+)(?::[0-9smhdwy]*)?\]", rule["query"])]
        fire = iv["scrape"] + iv["eval"] + float(rule.get("duration", 0)) + iv["group_wait"]
        resolve = iv["scrape"] + iv["eval"] + iv["group_interval"]
        self.timeline.fire_floor, self.timeline.resolve_floor = fire, resolve
        return fire, resolve, max(windows, default=0.0)

    def alert_states(self) -> list[AlertState]:
        """Prometheus' instances of the expected alert that this scenario is about."""
        return [a for a in self.prom.alerts() if a.name == self.expect.alertname and self._instance(a.labels)]

    def watched(self) -> str:
        if not self.expect.watch:
            return ""
        try:
            value = self.prom.value(self.expect.watch)
        except (PrometheusError, httpx.HTTPError) as exc:
            return f"{self.expect.watch} -> error {exc}"
        shown = "no data" if value is None else f"{value:.3g}"
        return f"{self.expect.watch} = {shown} (alert when {self.expect.threshold})"

    def _others_firing(self) -> list[AlertState]:
        return [a for a in self.prom.alerts() if a.state == "firing" and a.name != self.expect.alertname]

    def situation(self) -> str:
        """What a failure message shows: alert states, the watched value, containers, notifications."""
        lines = []
        try:
            states = self.alert_states()
            lines.append(f"{self.expect.alertname}: " + (", ".join(
                f"{a.state} {a.labels}" for a in states) or "inactive"))
            lines.append("other alerts: " + (", ".join(
                f"{a.name} {a.state} severity={a.labels.get('severity')}" for a in self.prom.alerts()
                if a.name != self.expect.alertname) or "none"))
            if self.expect.watch:
                lines.append(self.watched())
        except (PrometheusError, httpx.HTTPError) as exc:
            lines.append(f"Prometheus unreachable: {exc}")
        lines.append("containers: " + ", ".join(f"{n}={s}" for n, s in self.ctx.docker.states(SERVICES).items()))
        try:
            notes = self.sink.notifications(since=self.started)
            lines.append("notifications since the drill began: " + (
                "; ".join(n.describe() for n in notes) or "none"))
        except httpx.HTTPError as exc:
            lines.append(f"alert sink unreachable: {exc}")
        return "\n".join(lines)

    def _progress(self, text: str, deadline: float) -> None:
        now = time.monotonic()
        if now - self._last_progress >= 2.0:
            self._last_progress = now
            self.report(f"    [{max(0.0, deadline - now):5.1f}s left] {text}")

    # -- phases ----------------------------------------------------------------------------------
    def steady_state(self, timeout: float | None = None) -> None:
        """All services healthy, the backend ready, and no alert pending or firing anywhere."""
        timeout = timeout or self.ctx.timeouts.steady
        with self.phase("steady state"):
            # Clean for two evaluation intervals in a row: a rule reloaded a moment ago, or a window
            # still holding the last fault's samples, shows up at its next evaluation, not before.
            hold = 2 * self.ctx.intervals()["eval"] + 1
            deadline = time.monotonic() + timeout
            problems: list[str] = []
            clean_since: float | None = None
            while time.monotonic() < deadline:
                problems = self._steady_problems()
                if problems:
                    clean_since = None
                    self._progress("waiting for steady state: " + "; ".join(problems), deadline)
                else:
                    clean_since = clean_since or time.monotonic()
                    if time.monotonic() - clean_since >= hold:
                        return
                time.sleep(1)
            raise SteadyStateError(
                f"the stack did not reach steady state within {timeout:.0f}s",
                expected="every service healthy, backend /ready 200, no alert pending or firing",
                seen="\n".join(problems) + "\n" + self.situation(),
                hint="a previous drill may have left a fault behind: `make status`, "
                     f"{self.ctx.endpoints.prometheus}/alerts, or `make down` and rerun")

    def _steady_problems(self) -> list[str]:
        problems = []
        # Alertmanager reaps an emptied aggregation group only at its next maintenance (every 30 s);
        # until then a new alert of the same name joins the old group and waits for group_interval
        # instead of group_wait, which would distort this drill's time to fire.
        try:
            last = max((n.received_at for n in self.sink.notifications(alertname=self.expect.alertname)),
                       default=None)
        except httpx.HTTPError as exc:
            last = None
            problems.append(f"alert sink unreachable: {exc}")
        if last is not None and time.time() - last < AM_GROUP_REAP:
            problems.append(f"Alertmanager still holds {self.expect.alertname}'s group from a notice "
                            f"{time.time() - last:.0f}s ago (groups are reaped {AM_GROUP_REAP:.0f}s after)")
        bad = {n: s for n, s in self.ctx.docker.states(SERVICES).items() if s != "running (healthy)"}
        if bad:
            problems.append("containers not healthy: " + ", ".join(f"{n}={s}" for n, s in bad.items()))
        try:
            r = httpx.get(f"{self.ctx.endpoints.backend}/ready", timeout=3)
            if r.status_code != 200:
                problems.append(f"backend /ready -> {r.status_code} {r.text[:120]}")
        except httpx.HTTPError as exc:
            problems.append(f"backend /ready unreachable: {exc}")
        try:
            active = [f"{a.name} ({a.state})" for a in self.prom.alerts()]
            if active:
                problems.append("alerts active in Prometheus: " + ", ".join(active))
            am_active = [a["labels"]["alertname"] for a in self.am.alerts()]
            if am_active:
                problems.append("alerts active in Alertmanager: " + ", ".join(am_active))
        except (PrometheusError, httpx.HTTPError) as exc:
            problems.append(f"monitoring unreachable: {exc}")
        return problems

    def workload(self, load, warmup: float = 0.0) -> None:
        """Start background load (a LocustLoad) and let it run `warmup` seconds: the expected alert must
        stay silent and no critical alert may fire, so the alert later comes from the fault, not the load."""
        with self.phase(f"workload: {load.name} ({load.users} users)"):
            self.loads.append(load)
            load.start()
            self.timeline.mark("workload", " ".join(load.command()[3:5]))
            deadline = time.monotonic() + warmup
            while time.monotonic() < deadline:
                if not load.running:
                    raise DrillError(f"the load {load.name} stopped during warm-up",
                                     seen=f"see {load.log_path}", hint="run the locustfile by hand to see why")
                firing = [a for a in self.alert_states() if a.state == "firing"]
                if firing:
                    raise SteadyStateError(f"{self.expect.alertname} fired from the load alone, before any fault",
                                           seen=self.situation(),
                                           hint="the workload is too heavy for this alert's threshold")
                self._check_unexpected()
                self._progress(f"warm-up; {self.watched()}", deadline)
                time.sleep(self.POLL)

    def stop_workload(self):
        """Stop the loads now and return their stats (name -> LoadStats)."""
        stats = {load.name: load.stop() for load in self.loads}
        self.loads.clear()
        return stats

    def guard(self, fault: Fault) -> None:
        """Register something to put back when the drill ends (e.g. an EnvFileGuard before a remediation
        edits a config file), without counting it as the fault."""
        self.faults.append(fault)
        fault.inject()

    def inject(self, fault: Fault) -> None:
        with self.phase(f"fault: {fault.name}"):
            self.faults.append(fault)  # registered first: a half-done injection still heals
            done = fault.inject()
            self.timeline.mark("injected", done)
            self.report(f"    injected: {done}")

    def expect_firing(self) -> float:
        """Wait until the alert fires with the expected labels and every expected receiver has the
        firing notification; fail early if a critical alert that nobody expected fires."""
        fire_floor, _, window = self.floors()
        timeout = self.ctx.timeouts.fire or (3 * fire_floor + window + 20)
        injected = self.timeline.last("injected")
        since = injected.at if injected else self.started
        with self.phase(f"{self.expect.alertname} fires"):
            deadline = time.monotonic() + timeout
            while True:
                states = self.alert_states()
                self._note_states(states)
                firing = [a for a in states if a.state == "firing"]
                wrong = [a for a in firing if not self._labels_match(a)]
                if wrong and not [a for a in firing if self._labels_match(a)]:
                    raise AlertNotFired(
                        f"{self.expect.alertname} fired with the wrong labels",
                        expected=f"severity={self.expect.severity} {self.expect.labels or ''}".strip(),
                        seen="\n".join(f"labels {a.labels}" for a in wrong) + "\n" + self.situation(),
                        hint="check the rule's labels in the rules file (was the severity changed?)")
                self._check_unexpected()
                got = self._receivers_notified("firing", since)
                if firing and got >= self.expect.receivers:
                    return time.time() - since
                if time.monotonic() > deadline:
                    self._fail_firing(timeout, firing, got)
                state = firing and "firing" or (states and states[0].state) or "inactive"
                self._progress(f"{self.expect.alertname} {state}; {self.watched()}; notified: "
                               f"{', '.join(sorted(got)) or 'none'}", deadline)
                time.sleep(self.POLL)

    def _instance(self, labels: dict) -> bool:
        """This alert instance is the one the scenario is about (e.g. route="/signals"), whatever its
        severity; other instances of the same alert (another route) are not ours."""
        return all(labels.get(k) == v for k, v in self.expect.labels.items())

    def _labels_match(self, alert: AlertState) -> bool:
        want = {"severity": self.expect.severity, **self.expect.labels}
        return all(alert.labels.get(k) == v for k, v in want.items())

    def _note_states(self, states: list[AlertState]) -> None:
        for a in states:
            if not self.timeline.first(a.state):
                self.timeline.mark(a.state, f"value {a.value:.3g}")

    def _receivers_notified(self, status: str, since: float) -> set[str]:
        got = set()
        for n in self.sink.notifications(alertname=self.expect.alertname, status=status, since=since):
            if not self._instance(n.labels):
                continue
            got.add(n.receiver)
            name = f"{'notified' if status == 'firing' else 'resolved-notified'}:{n.receiver}"
            if not any(e.name == name for e in self.timeline.events):
                self.timeline.mark(name, at=n.received_at)
        return got

    def _check_unexpected(self) -> None:
        allowed = set(self.expect.side_effects)
        for a in self._others_firing():
            if a.labels.get("severity") == "critical" and a.name not in allowed:
                raise UnexpectedAlert(
                    f"critical alert {a.name} fired during the {self.expect.alertname} drill",
                    expected=f"only {self.expect.alertname}"
                             + (f" and the named side effects {sorted(allowed)}" if allowed else ""),
                    seen=self.situation(),
                    hint=f"if {a.name} is a real consequence of this fault, name it as a side effect in "
                         "the scenario with the reason; if it was renamed from "
                         f"{self.expect.alertname}, fix the rule's name")

    def _fail_firing(self, timeout: float, firing: list[AlertState], got: set[str]) -> None:
        if firing:
            missing = sorted(self.expect.receivers - got)
            labels = {"alertname": self.expect.alertname, "severity": self.expect.severity, **self.expect.labels}
            raise NotificationMissing(
                f"{self.expect.alertname} fired but {', '.join(missing)} got no notification within {timeout:.0f}s",
                expected=f"firing notifications to {sorted(self.expect.receivers)}",
                seen=self.situation(),
                hint="check the Alertmanager routing: amtool config routes test --config.file="
                     "stack/alertmanager/alertmanager.yml --verify.receivers=... "
                     + " ".join(f"{k}={v}" for k, v in labels.items()))
        states = self.alert_states()
        never = not self.timeline.first("pending")
        raise AlertNotFired(
            f"{self.expect.alertname} did not fire within {timeout:.0f}s of the fault",
            expected=f"{self.expect.alertname} firing with severity={self.expect.severity}",
            seen=self.situation(),
            hint=("the rule's condition never became true: is the threshold reachable and the metric "
                  f"present? Try {self.ctx.endpoints.prometheus}/graph?g0.expr=" + self.expect.watch)
            if never else (f"it went pending but never fired ({states[0].state if states else 'inactive'} now): "
                           "is `for` longer than the drill allows, or did the condition flap?"))

    def investigate(self, description: str, check: Callable[[], str]) -> str:
        """Run one of the runbook's investigation steps; `check` returns the evidence or raises."""
        with self.phase(f"investigate: {description}"):
            evidence = check()
            self.report(f"    evidence: {evidence}")
            return evidence

    def remediate(self, remediation: Remediation) -> None:
        with self.phase("remediation"):
            # Timed from the start: a restart inside the action can already clear the alert (and its
            # resolved notice arrive) before the action returns.
            started = time.time()
            done = remediation.apply()
            self.timeline.mark("remediated", done, at=started)
            self.report(f"    applied: {done}")

    def expect_resolved(self) -> float:
        _, resolve_floor, window = self.floors()
        timeout = self.ctx.timeouts.resolve or (3 * resolve_floor + window + 30)
        remediated = self.timeline.first("remediated")
        since = remediated.at if remediated else time.time()
        with self.phase(f"{self.expect.alertname} resolves"):
            deadline = time.monotonic() + timeout
            while True:
                states = self.alert_states()
                if not states and not self.timeline.first("resolved"):
                    self.timeline.mark("resolved")
                got = self._receivers_notified("resolved", since)
                if not states and got >= self.expect.receivers:
                    break
                if time.monotonic() > deadline:
                    raise AlertNotResolved(
                        f"{self.expect.alertname} " + ("kept firing" if states else "resolved but the resolved "
                                                       f"notice did not reach {sorted(self.expect.receivers - got)}")
                        + f" {timeout:.0f}s after the remediation",
                        expected="the alert inactive and a resolved notice at every receiver",
                        seen=self.situation(),
                        hint="the remediation did not remove the cause" if states else
                             "check send_resolved on the receivers in the Alertmanager config")
                state = states[0].state if states else "inactive"
                self._progress(f"{self.expect.alertname} {state}; {self.watched()}; resolved notices: "
                               f"{', '.join(sorted(got)) or 'none'}", deadline)
                time.sleep(self.POLL)
        self._check_receivers_exact()
        return time.time() - since

    def _check_receivers_exact(self) -> None:
        """The alert reached exactly the expected receivers (no route to someone it should not page)."""
        got = {n.receiver for n in self.sink.notifications(alertname=self.expect.alertname, since=self.started)
               if self._instance(n.labels)}
        extra = got - self.expect.receivers
        if extra:
            raise NotificationMissing(
                f"{self.expect.alertname} also reached {sorted(extra)}",
                expected=f"notifications to exactly {sorted(self.expect.receivers)}",
                seen=self.situation(),
                hint="check the routes' matchers and `continue` flags in the Alertmanager config")

    def invariant(self, description: str, check: Callable[[], str]) -> str:
        """`check` returns a summary of what held, or raises InvariantViolated."""
        with self.phase(f"invariant: {description}"):
            summary = check()
            self.report(f"    held: {summary}")
            return summary


def require(condition: bool, what: str, *, expected: str, seen: str, hint: str = "") -> None:
    if not condition:
        raise InvariantViolated(what, expected=expected, seen=seen, hint=hint)
