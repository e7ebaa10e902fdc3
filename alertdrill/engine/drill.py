"""The drill engine: steady state -> workload -> fault -> alert fires and routes -> investigation ->
remediation -> alert resolves -> steady state -> invariants. Each phase is timed and reported; faults
heal and guards restore when the drill ends, whatever happened.

A new phase or verdict goes here; what it observes comes from alertdrill.engine.observe, how long it
waits from alertdrill.alerting.timings, and it waits with alertdrill.wait.until.

A scenario is `run(d, ctx)`: it calls the phases in the order its runbook section reads.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from alertdrill import interrupts
from alertdrill.engine.abort import AbortConditions
from alertdrill.engine.context import DrillContext
from alertdrill.engine.deadlines import PromiseClock
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import Fault
from alertdrill.engine.guards import Guard
from alertdrill.engine.monitoring import label_alerts
from alertdrill.engine.observe import Evaluated, Observer, notice_problems
from alertdrill.engine.remediations import Remediation
from alertdrill.runbook.promises import Threshold
from alertdrill.engine.timeline import Phase, Timeline
from alertdrill.errors import (AlertNotFired, AlertNotResolved, DrillAborted, DrillError, NotificationLate,
                               NotificationMissing, SteadyStateError, UnexpectedAlert)
from alertdrill.target.clients.prometheus import AlertState
from alertdrill.target.daemon import daemon_trouble
from alertdrill.wait import until

PROGRESS_EVERY_S = 2.0


class Drill:
    """One scenario's run. Use as a context manager so faults always heal and the timeline is written."""

    POLL = 0.5

    def __init__(self, ctx: DrillContext, scenario: str, expectation: AlertExpectation, *,
                 broken_on_purpose: bool = False) -> None:
        self.ctx, self.expect = ctx, expectation
        self.started = time.time()
        self.obs = Observer(ctx, expectation, self.started)
        self.timeline = Timeline(scenario=scenario, alert=expectation.alertname, factor=float(ctx.timings.factor),
                                 broken_on_purpose=broken_on_purpose, watch=self.obs.watch,
                                 threshold=expectation.threshold, severity=expectation.severity,
                                 receivers=sorted(expectation.receivers), remediate=ctx.gameday.remediate)
        self._rollbacks: list[Fault | Guard] = []  # healed / restored in reverse order
        self._aborts = AbortConditions(ctx.gameday)
        self.loads: list = []  # LocustLoad runs, stopped when the drill ends

    @property
    def run_id(self) -> str:
        """This drill run's label on its alerts (alertdrill.engine.monitoring)."""
        return f"{self.timeline.file_stem}-{self.started:.0f}"

    @property
    def workdir(self) -> Path:
        """A folder of this drill's own (credentials files, logs), kept beside its timeline."""
        path = self.ctx.artifacts / "work" / self.timeline.file_stem
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- lifecycle ---------------------------------------------------------------------------------
    def __enter__(self) -> "Drill":
        t, name = self.ctx.timings, self.expect.alertname
        self.report(f"drill {self.timeline.scenario}: expecting {name} ({self.expect.severity}) -> "
                    f"{', '.join(sorted(self.expect.receivers))}; {t.label}: {t.describe(name)}")
        label_alerts(self.ctx, self.run_id)
        self._emit("drill_started")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # A failure caused by the Docker daemon going away is named as such, whatever check tripped on it.
        blamed = None if exc is None or isinstance(exc, (KeyboardInterrupt, DrillAborted)) else \
            daemon_trouble(self.ctx.stack, self.started)
        self._record_end(blamed or exc)
        try:
            with interrupts.shielded():  # a second Ctrl-C or a SIGTERM cannot skip a heal
                self.heal_all()
            if exc is None:
                self._no_unexpected_alert_since_the_fault()
                self.steady_state(ending=True)  # every drill ends with the stack steady again
        except BaseException as late:
            if exc is None:
                self._record_end(late)
            elif isinstance(late, KeyboardInterrupt):  # the first cause stays; the interrupt is added
                self.timeline.outcome = "aborted"
                self.timeline.error += f"; then {interrupts.describe(late)} while healing (every heal still ran)"
            raise
        finally:
            path = self.timeline.write(self.ctx.artifacts)
            self.ctx.timelines.append(self.timeline)
            self.report(f"timeline written to {path}")
            self._emit("drill_ended")
        if blamed is not None:
            raise blamed from exc

    def _record_end(self, exc: BaseException | None) -> None:
        """The outcome on the timeline: passed, failed, or aborted (an interrupt or an abort condition)."""
        aborted = isinstance(exc, (KeyboardInterrupt, DrillAborted))
        self.timeline.outcome = "passed" if exc is None else ("aborted" if aborted else "failed")
        if exc is None:
            return
        self.timeline.error = (str(exc) or type(exc).__name__)[:4000]
        if aborted:
            interrupted = isinstance(exc, KeyboardInterrupt)
            why = interrupts.describe(exc) if interrupted else str(exc).splitlines()[0]
            if interrupted:
                self.timeline.error = f"aborted by {why}"
            self.mark("aborted", why)
            self.report(f"  ABORTED: {why}; healing the faults")

    def heal_all(self) -> None:
        """Stop the loads, heal every fault and restore every guard (newest first); report all that
        could not be healed at the end rather than stop at the first."""
        errors = []
        for load in self.loads:
            try:
                load.stop()
            except Exception as exc:
                errors.append(f"load {load.name}: {exc}")
        self.loads.clear()
        while self._rollbacks:
            item = self._rollbacks.pop()
            try:
                done = item.heal(self.ctx) if isinstance(item, Fault) else item.restore(self.ctx)
                if done:
                    self.report(f"  healed: {done}")
            except Exception as exc:  # keep healing the others
                errors.append(f"{item.name}: {exc}")
        if errors:
            raise DrillError("a fault could not be healed; the stack may be left broken",
                             seen="\n".join(errors), hint="run `make status`, then `make down` to reset")

    def report(self, line: str) -> None:
        self.ctx.reporter(line)

    def _emit(self, method: str, *args) -> None:
        for handler in self.ctx.handlers:
            fn = getattr(handler, method, None)
            if fn is not None:
                fn(self, *args)

    def mark(self, name: str, detail: str = "", at: float | None = None) -> None:
        """A timeline event, told to the handlers."""
        self._emit("marked", self.timeline.mark(name, detail, at))

    def _sample(self) -> tuple[float, float | None, bool]:
        """The watched value now, kept on the timeline (the report's chart) and told to the handlers:
        (time, value or None, whether Prometheus answered). Every poll of every wait passes here, so the
        drill's limits (maximum duration, abort conditions) are checked here too."""
        self._check_limits()
        now = time.time()
        if not self.obs.watch:
            return now, None, False
        try:
            value, ok = self.obs.watched_value(), True
        except Exception:  # a gap in the chart, not a failure: the phases judge the alert, not the sample
            value, ok = None, False
        self.timeline.samples.append([round(now, 3), value])
        self._emit("sampled", now, value)
        return now, value, ok

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        p = Phase(name, time.time())
        self.timeline.phases.append(p)
        self._emit("phase_started", p)
        try:
            yield p
        except BaseException:
            p.ended, p.outcome = time.time(), "failed"
            self.report(f"  x {name} failed after {p.seconds:.1f}s")
            self._emit("phase_ended", p)
            raise
        p.ended, p.outcome = time.time(), "ok"
        self.report(f"  v {name} ({p.seconds:.1f}s)")
        self._emit("phase_ended", p)

    def _progress(self, status: Callable[[], str]) -> Callable[[float], None]:
        def show(left: float) -> None:
            text = status()
            if self.ctx.progress_lines:  # off when a live view (alertdrill.engine.live) shows the waits
                self.report(f"    [{left:5.1f}s left] {text}")
            self._emit("progress", text, left)

        return show

    # -- before the fault ------------------------------------------------------------------------------
    def steady_state(self, timeout: float | None = None, *, ending: bool = False) -> None:
        """All services healthy, the backend ready, any signal generator caught up, and no alert pending
        or firing anywhere, in a row until Prometheus shows every target scraped and every rule group
        evaluated since (Observer.evaluated), and at most for the timing model's fixed hold, which alone
        decides where Prometheus cannot tell. `ending`: the drill's last check, where its own named side
        effects may still be pending while their windows drain (minutes at production timings); firing
        they still count."""
        timeout = timeout or self.ctx.timeouts.steady
        tolerate = frozenset(self.expect.side_effects) if ending else frozenset()
        hold = self.ctx.timings.steady_hold_s
        seen = {"problems": [], "clean_since": None}

        def steady() -> bool:
            since = seen["clean_since"]
            # Asked before the alerts are read: the states read next come from those evaluations or later.
            evaluated = since is not None and self.obs.evaluated(since)
            seen["problems"] = self.obs.steady_problems(tolerate)
            if seen["problems"]:
                seen["clean_since"] = None
                return False
            if since is None:
                seen["clean_since"] = Evaluated(time.time())
                return False
            return evaluated is True or time.time() - since.since >= hold

        def fail() -> None:
            raise SteadyStateError(
                f"the stack did not reach steady state within {timeout:.0f}s",
                expected="every service healthy, backend /ready 200, any signal generator caught up, no alert "
                         "pending or firing",
                seen="\n".join(seen["problems"]) + "\n" + self.obs.situation(),
                hint="a previous drill may have left a fault behind: `make status`, "
                     f"{self.ctx.endpoints.prometheus}/alerts, or `make down` and rerun")

        with self.phase("steady state"):
            until(steady, timeout, poll=self.POLL, on_timeout=fail, every=PROGRESS_EVERY_S,
                  progress=self._progress(lambda: "waiting for steady state: " + "; ".join(seen["problems"])))

    def workload(self, load, warmup: float = 0.0) -> None:
        """Start background load (a LocustLoad) and let it run `warmup` seconds, and on until no alert is
        pending: the expected alert must stay silent and no unexpected alert may fire, so the alert later
        comes from the fault, not the load."""
        with self.phase(f"workload: {load.name} ({load.users} users)"):
            self.loads.append(load)
            load.start()
            self.mark("workload", " ".join(load.command()[3:5]))

            def still_quiet() -> bool:
                if not load.running:
                    raise DrillError(f"the load {load.name} stopped during warm-up",
                                     seen=f"see {load.log_path}", hint="run the locustfile by hand to see why")
                if any(a.state == "firing" for a in self.obs.alert_states()):
                    raise SteadyStateError(f"{self.expect.alertname} fired from the load alone, before any fault",
                                           seen=self.obs.situation(),
                                           hint="the workload is too heavy for this alert's threshold")
                self._check_unexpected()
                self._sample()
                return False  # the warm-up only ends with its time

            until(still_quiet, warmup, poll=self.POLL, on_timeout=lambda: None, every=PROGRESS_EVERY_S,
                  progress=self._progress(lambda: f"warm-up; {self.obs.watched()}"))
            self._quiet_baseline(still_quiet)

    def _quiet_baseline(self, still_quiet: Callable[[], bool]) -> None:
        """The warm-up goes on while any alert is pending or firing: the fault starts from a quiet
        baseline. An alert already pending from the load (say a latency spike while the other lane restarts
        its backend) would fire early and be taken for the fault's, or notify before the alert that should
        inhibit it."""
        seen = {"active": []}

        def quiet() -> bool:
            still_quiet()
            seen["active"] = self.obs.active_alerts()
            return not seen["active"]

        if quiet():
            return
        self.mark("warm-up-extended", ", ".join(seen["active"]))
        timeout = self.ctx.timeouts.steady

        def fail() -> None:
            raise SteadyStateError(f"alerts stayed active under the load alone for {timeout:.0f}s after the warm-up",
                                   expected="no alert pending or firing before the fault",
                                   seen=", ".join(seen["active"]) + "\n" + self.obs.situation(),
                                   hint="the workload is too heavy for those alerts' thresholds, or the machine is "
                                        "overloaded (another drill lane, another job): lighten the load or run LANES=1")

        until(quiet, timeout, poll=self.POLL, on_timeout=fail, every=PROGRESS_EVERY_S,
              progress=self._progress(lambda: "warm-up goes on until no alert is active: "
                                              + ", ".join(seen["active"])))

    def stop_workload(self):
        """Stop the loads now and return their stats (name -> LoadStats)."""
        stats = {load.name: load.stop() for load in self.loads}
        self.loads.clear()
        return stats

    def guard(self, guard: Guard) -> None:
        """Snapshot something the drill will change on purpose (e.g. the file a remediation edits), to be
        put back when the drill ends."""
        self._rollbacks.append(guard)
        self.report(f"    {guard.save(self.ctx)}")

    def inject(self, fault: Fault) -> None:
        with self.phase(f"fault: {fault.name}"):
            self._rollbacks.append(fault)  # registered first: a half-done injection still heals
            done = fault.inject(self.ctx)
            self.mark("injected", done)
            self.report(f"    injected: {done}")

    # -- the alert --------------------------------------------------------------------------------------
    def expect_firing(self) -> float:
        """Wait until the alert fires with the expected labels and every expected receiver has the
        firing notification, each within the runbook's deadline after the alert's condition started to
        hold; fail early if an alert that nobody expected fires."""
        t, name = self.ctx.timings, self.expect.alertname
        # Labels without a template are the rule's own: a pending instance already shows those it fires with.
        static_labels = not any("{{" in str(v) for v in (self.obs.loaded_rule().get("labels") or {}).values())
        self.timeline.fire_floor, self.timeline.resolve_floor = t.fire_floor_s(name), t.resolve_floor_s
        clock = PromiseClock.for_alert(self.ctx.promises, t, name, self.expect.receivers)
        self.timeline.deadlines = dict(clock.deadlines_s)
        timeout = self.ctx.fire_deadline_s(name)  # for the fault to cause the symptom at all
        self.timeline.fire_deadline = clock.longest_s
        injected = self.timeline.last("injected")
        since = injected.at if injected else self.started
        seen: dict = {"state": "inactive", "got": {}}

        def fired() -> bool:
            now, value, answered = self._sample()
            states = self.obs.alert_states()
            self._note_states(states)
            firing = [a for a in states if a.state == "firing"]
            if answered:
                clock.observe(now, value, firing=bool(firing))
            judged = firing or (states if static_labels else [])
            if judged and not any(self.expect.matches(a.labels) for a in judged):
                raise AlertNotFired(
                    f"{name} {'fired' if firing else 'is pending'} with the wrong labels",
                    expected=f"severity={self.expect.severity} {self.expect.labels or ''}".strip(),
                    seen="\n".join(f"labels {a.labels}" for a in judged) + "\n" + self.obs.situation(),
                    hint="check the rule's labels in the rules file (was the severity changed?)"
                         + ("" if firing else "; they have no template, so it would fire with these"))
            self._check_unexpected()
            seen["got"] = self._notified("firing", since)
            seen["state"] = "firing" if firing else (states[0].state if states else "inactive")
            done = bool(firing) and set(seen["got"]) >= self.expect.receivers
            if not done and clock.overdue(now):
                self._fail_firing(clock.longest_s, seen["state"] == "firing", set(seen["got"]), clock)
            return done

        with self.phase(f"{name} fires"):
            until(fired, timeout, poll=self.POLL, every=PROGRESS_EVERY_S,
                  on_timeout=lambda: self._fail_firing(timeout, seen["state"] == "firing", set(seen["got"]), None),
                  progress=self._progress(lambda: f"{name} {seen['state']}; {self.obs.watched()}; notified: "
                                                  f"{', '.join(sorted(seen['got'])) or 'none'}"))
            if clock.start is not None:
                self.mark("condition", f"{self.obs.watch} {clock.promise.threshold} since", at=clock.start)
            self._check_deadlines(clock, seen["got"])
            self._check_notices(since)
        return time.time() - since

    def _check_notices(self, since: float) -> None:
        """What reaches people: every firing notice carries a summary, a description and a runbook_url
        that opens this alert's section of the runbook."""
        problems = notice_problems(self.obs.notifications("firing", since), self.expect.alertname, self.ctx.runbook)
        if problems:
            raise NotificationMissing(
                f"{self.expect.alertname}'s notices do not tell people what they need",
                expected="summary, description and a runbook_url whose anchor is the alert's runbook section",
                seen="\n".join(problems),
                hint="check the rule's annotations in the rules file against the runbook's headings")

    def _check_deadlines(self, clock: PromiseClock, notified_at: dict[str, float]) -> None:
        late = clock.late(notified_at)
        if late:
            t = self.ctx.timings
            raise NotificationLate(
                f"{self.expect.alertname} reached " + ", ".join(f"{r} {s:.1f}s" for r, s in sorted(late.items()))
                + " after its condition started to hold, later than the runbook promises",
                expected="; ".join(f"{r} within {clock.explain(t, r, self.ctx.promises)}" for r in sorted(late)),
                seen=self.obs.situation(),
                hint="a timer on the route that delivers it (group_wait, a child route's override) or the rule's "
                     "`for` is longer than the runbook says: compare the Alertmanager config and the rule with "
                     "the runbook's alert index and notification timing tables")

    def _note_states(self, states: list[AlertState]) -> None:
        for a in states:
            if not self.timeline.first(a.state):
                self.mark(a.state, f"value {a.value:.3g}")

    def _notified(self, status: str, since: float) -> dict[str, float]:
        """Receivers that got a `status` notice of our alert since `since` -> when the first came; each
        marked on the timeline."""
        got: dict[str, float] = {}
        for n in sorted(self.obs.notifications(status, since), key=lambda n: n.received_at):
            got.setdefault(n.receiver, n.received_at)
            event = f"{'notified' if status == 'firing' else 'resolved-notified'}:{n.receiver}"
            if not any(e.name == event for e in self.timeline.events):
                self.mark(event, at=n.received_at)
                self.timeline.notifications.append({"receiver": n.receiver, "status": n.status,
                                                    "at": round(n.received_at, 3)})
        return got

    def _check_unexpected(self) -> None:
        for a in self.obs.unexpected_firing():
            self._unexpected(a.name, a.labels.get("severity", ""), "fired")

    def _unexpected(self, alert: str, severity: str, when: str) -> None:
        allowed = sorted(self.expect.side_effects)
        raise UnexpectedAlert(
            f"{severity} alert {alert} {when} during the {self.expect.alertname} drill",
            expected=f"only {self.expect.alertname}" + (f" and the named side effects {allowed}" if allowed else ""),
            seen=self.obs.situation(),
            hint=f"if {alert} is a real consequence of this fault, name it as a side effect in the scenario "
                 f"with the reason; if it was renamed from {self.expect.alertname}, fix the rule's name")

    def _no_unexpected_alert_since_the_fault(self) -> None:
        """From the first injection to now, by Prometheus' own history: only the expected alert and the
        named side effects fired, whatever their severity. Side effects that paged are recorded."""
        first = next((e for e in self.timeline.events if e.name == "injected"), None)
        if first is None:
            return
        for alert, severities in sorted(self.obs.fired_since(first.at).items()):
            if alert != self.expect.alertname and alert not in self.expect.side_effects:
                self._unexpected(alert, "/".join(sorted(severities)), "fired at some point")
        paged = self.obs.side_effects_paged(first.at)
        self.timeline.side_effects = {a: {"reason": self.expect.side_effects[a], "reached": sorted(r)}
                                      for a, r in paged.items()}
        for alert, receivers in sorted(paged.items()):
            self.report(f"    side effect {alert} reached {', '.join(sorted(receivers))}: "
                        f"{self.expect.side_effects[alert]}")

    def _fail_firing(self, timeout: float, firing: bool, got: set[str], clock: PromiseClock | None) -> None:
        name = self.expect.alertname
        after = ("of its condition holding (the runbook's deadline)" if clock is not None
                 else "of the fault")
        if firing:
            missing = sorted(self.expect.receivers - got)
            labels = {"alertname": name, "severity": self.expect.severity, **self.expect.labels}
            raise NotificationMissing(
                f"{name} fired but {', '.join(missing)} got no notification within {timeout:.0f}s {after}",
                expected=f"firing notifications to {sorted(self.expect.receivers)}",
                seen=self.obs.situation(),
                hint="check the Alertmanager routing: amtool config routes test --config.file="
                     "stack/alertmanager/alertmanager.yml --verify.receivers=... "
                     + " ".join(f"{k}={v}" for k, v in labels.items()))
        states = self.obs.alert_states()
        never = not self.timeline.first("pending")
        raise AlertNotFired(
            f"{name} did not fire within {timeout:.0f}s {after}",
            expected=f"{name} firing with severity={self.expect.severity}",
            seen=self.obs.situation(),
            hint=("the rule's condition never became true: is the threshold reachable and the metric "
                  f"present? Try {self.ctx.endpoints.prometheus}/graph?g0.expr=" + self.obs.watch)
            if never else (f"it went pending but never fired ({states[0].state if states else 'inactive'} now): "
                           "is `for` longer than the drill allows, or did the condition flap?"))

    # -- after it fired -------------------------------------------------------------------------------
    def investigate(self, description: str, check: Callable[[], str]) -> str:
        """Run one of the runbook's investigation steps; `check` returns the evidence or raises
        InvestigationFailed."""
        with self.phase(f"investigate: {description}") as p:
            evidence = check()
            p.detail = str(evidence)
            self.report(f"    evidence: {evidence}")
            return evidence

    def remediate(self, remediation: Remediation) -> None:
        """Apply the remediation; with --remediate human, hand over to the people on call instead and
        time them (alertdrill.engine.human)."""
        if self.ctx.gameday.remediate == "human":
            from alertdrill.engine.human import HumanRemediation

            remediation = HumanRemediation(self, remediation)
        with self.phase("remediation"):
            # Timed from the start: a restart inside the action can already clear the alert (and its
            # resolved notice arrive) before the action returns.
            started = time.time()
            action = {"name": type(remediation).__name__, "script": "", "output": "", "started": round(started, 3)}
            self.timeline.actions.append(action)
            try:
                done = remediation.apply(self.ctx)
            finally:
                action.update(ended=round(time.time(), 3), output=getattr(remediation, "output", ""),
                              name=getattr(remediation, "name", "") or getattr(remediation, "match", "") or action["name"])
            action["script"] = done
            self.mark("remediated", done, at=getattr(remediation, "applied_at", None) or started)
            self.report(f"    applied: {done}")

    def expect_resolved(self) -> float:
        name = self.expect.alertname
        timeout = self.ctx.resolve_deadline_s(name)
        remediated = self.timeline.first("remediated")
        since = remediated.at if remediated else time.time()
        # Inactive counts as resolved only on data: not while a target restarted by the remediation has
        # yet to be scraped for the rule's whole window (or two scrapes, for a rule without a window).
        window = max(self.ctx.timings.window_s(name), 2 * self.ctx.timings.scrape_s)
        # The cause must be gone well before the resolved notices are due: a remediation that changed
        # nothing fails at this deadline, not after three resolve floors more of waiting.
        mitigate_by = self.ctx.mitigate_deadline_s(name)
        seen: dict = {"states": [], "gaps": [], "got": set()}

        def resolved() -> bool:
            self._sample()
            self._note_mitigated()
            seen["states"] = self.obs.alert_states()
            seen["gaps"] = [] if seen["states"] else self.obs.scrape_gaps(window)
            inactive = not seen["states"] and not seen["gaps"]
            if inactive and not self.timeline.first("resolved"):
                self.mark("resolved")
            cause_gone = self.timeline.first("resolved") or self.timeline.first("mitigated")
            if not cause_gone and time.time() - since > mitigate_by:
                self._cause_not_removed(mitigate_by, seen["states"], seen["gaps"])
            seen["got"] = set(self._notified("resolved", since))
            return inactive and seen["got"] >= self.expect.receivers

        def fail() -> None:
            states, gaps, got = seen["states"], seen["gaps"], seen["got"]
            if states:
                what = "kept firing"
            elif gaps:
                what = (f"was inactive only on missing data ({', '.join(gaps)} down within its {window:g}s "
                        "window)")
            else:
                what = f"resolved but the resolved notice did not reach {sorted(self.expect.receivers - got)}"
            raise AlertNotResolved(
                f"{name} {what} {timeout:.0f}s after the remediation",
                expected="the alert inactive with every target scraped through its window, and a resolved "
                         "notice at every receiver",
                seen=self.obs.situation(),
                hint="the remediation did not remove the cause" if states else
                     "a target the remediation restarted did not come back" if gaps else
                     "check send_resolved on the receivers in the Alertmanager config")

        def status() -> str:
            state = seen["states"][0].state if seen["states"] else "inactive"
            if seen["gaps"]:
                state += f" (no data: {', '.join(seen['gaps'])} down within the {window:g}s window)"
            return (f"{name} {state}; {self.obs.watched()}; resolved notices: "
                    f"{', '.join(sorted(seen['got'])) or 'none'}")

        with self.phase(f"{name} resolves"):
            until(resolved, timeout, poll=self.POLL, on_timeout=fail, every=PROGRESS_EVERY_S,
                  progress=self._progress(status))
        took = time.time() - since
        self._stays_resolved()
        self._check_receivers_exact()
        return took

    def _cause_not_removed(self, deadline: float, states: list[AlertState], gaps: list[str]) -> None:
        """AlertNotResolved: neither the watched value back on its healthy side nor the alert inactive
        (on data) within the mitigation deadline after the remediation."""
        name, t = self.expect.alertname, self.ctx.timings
        window = f"the {t.window_s(name):g}s window draining, " if t.window_s(name) else ""
        what = ("kept firing" if any(a.state == "firing" for a in states) else
                f"stayed {states[0].state}" if states else
                f"was inactive only on missing data ({', '.join(gaps)} down)")
        raise AlertNotResolved(
            f"{name} {what} {deadline:.0f}s after the remediation: the watched value never came back on its "
            f"healthy side ({self.obs.watched() or 'no watched value'})",
            expected=f"the cause gone within {deadline:g}s of the remediation: the watched value healthy or the "
                     f"alert inactive ({window}two scrapes and evaluations, 30 s for a restart)",
            seen=self.obs.situation(),
            hint="the remediation did not remove the cause" if states else
                 "a target the remediation restarted did not come back")

    def _stays_resolved(self) -> None:
        """Resolved means recovered: the alert stays inactive (not even pending) for the hold period, one
        `for` at drill speed, long enough to fire again if the cause were still there."""
        name = self.expect.alertname
        hold = self.ctx.timings.resolved_hold_s(self.ctx.promises.alert(name).for_ms)
        resolved = self.timeline.first("resolved")

        def still_inactive() -> bool:
            self._sample()
            states = self.obs.alert_states()
            if states:
                ago = time.time() - resolved.at if resolved else 0.0
                raise AlertNotResolved(
                    f"{name} came back ({states[0].state}) {ago:.1f}s after it resolved",
                    expected=f"{name} inactive for {hold:g}s after resolving (one `for` at drill speed)",
                    seen=self.obs.situation(),
                    hint="the remediation did not remove the cause: the signal only dipped under the threshold")
            return False  # the hold only ends with its time

        with self.phase(f"{name} stays resolved ({hold:g}s)"):
            until(still_inactive, hold, poll=self.POLL, on_timeout=lambda: None, every=PROGRESS_EVERY_S,
                  progress=self._progress(lambda: f"holding; {self.obs.watched()}"))

    def _check_limits(self) -> None:
        """DrillAborted past the maximum duration, or when an abort condition holds (alertdrill.engine.abort)."""
        self._aborts.check(self)

    def mitigated(self) -> bool:
        """Sample the watched value; True once it is back on its healthy side (marked `mitigated`), or,
        for an expectation without a threshold, once the alert is no longer active."""
        self._sample()
        if Threshold.read(self.expect.threshold) is None:
            if not self.timeline.first("mitigated") and not self.obs.alert_states():
                self.mark("mitigated", f"{self.expect.alertname} inactive")
        else:
            self._note_mitigated()
        return self.timeline.first("mitigated") is not None

    def _note_mitigated(self) -> None:
        """Mark `mitigated` at the first sample back on the healthy side of the threshold."""
        threshold = Threshold.read(self.expect.threshold)
        if threshold is None or self.timeline.first("mitigated") or not self.timeline.samples:
            return
        at, value = self.timeline.samples[-1]
        if threshold.healthy(value):
            self.mark("mitigated", f"{self.obs.watch} = {value:.3g}", at=at)

    def _check_receivers_exact(self) -> None:
        """The alert reached exactly the expected receivers (no route to someone it should not page)."""
        got = {n.receiver for n in self.obs.notifications(None, self.started)}
        extra = got - self.expect.receivers
        if extra:
            raise NotificationMissing(
                f"{self.expect.alertname} also reached {sorted(extra)}",
                expected=f"notifications to exactly {sorted(self.expect.receivers)}",
                seen=self.obs.situation(),
                hint="check the routes' matchers and `continue` flags in the Alertmanager config")

    def invariant(self, description: str, check: Callable[[], str]) -> str:
        """`check` returns a summary of what held, or raises InvariantViolated."""
        with self.phase(f"invariant: {description}") as p:
            summary = check()
            p.detail = str(summary)
            self.report(f"    held: {summary}")
            return summary
