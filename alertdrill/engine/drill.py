"""The drill runner: steady state -> workload -> fault -> alert fires and routes -> investigation ->
remediation -> alert resolves -> steady state -> invariants. It owns the lifecycle, the phases, the
timeline and the one undo stack (alertdrill.engine.undo) that heals every fault, stops every load and
traffic and restores every guard when the drill ends, whatever happened. What each phase waits for and
judges lives beside it (steady.py, firing.py, recovery.py, verdicts.py), and sees the runner only through
alertdrill.engine.runner.DrillRun.

A new phase goes in the module of its part of the drill; a verdict over what was recorded in verdicts.py;
what it observes comes from alertdrill.engine.observe, how long it waits from alertdrill.alerting.timings,
and it waits with alertdrill.wait.until.

A scenario is `run(d, ctx)`: it calls the phases in the order its runbook section reads.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from alertdrill import interrupts
from alertdrill.engine import firing, noise, recovery, steady
from alertdrill.engine.abort import AbortConditions
from alertdrill.engine.context import DrillContext
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import Fault
from alertdrill.engine.guards import Guard
from alertdrill.engine.monitoring import label_alerts
from alertdrill.engine.observe import Observer
from alertdrill.engine.remediations import Remediation
from alertdrill.engine.timeline import Phase, Timeline
from alertdrill.engine.undo import UndoStack
from alertdrill.errors import DrillAborted, DrillError
from alertdrill.target.daemon import daemon_trouble


class Drill:
    """One scenario's run. Use as a context manager so faults always heal and the timeline is written."""

    POLL = 0.5

    def __init__(self, ctx: DrillContext, scenario: str, expectation: AlertExpectation, *,
                 broken_on_purpose: bool = False) -> None:
        expectation = expectation.against(ctx.promises)  # what the scenario leaves to the runbook it reads
        self.ctx, self.expect = ctx, expectation
        self.started = time.time()
        self.obs = Observer(ctx, expectation, self.started)
        self.timeline = Timeline(scenario=scenario, alert=expectation.alertname, factor=float(ctx.timings.factor),
                                 broken_on_purpose=broken_on_purpose, watch=self.obs.watch,
                                 threshold=expectation.threshold, severity=expectation.severity,
                                 receivers=sorted(expectation.receivers), remediate=ctx.gameday.remediate)
        self._undo = UndoStack()  # faults, guards, loads, traffic: undone in reverse when the drill ends
        self._aborts = AbortConditions(ctx.gameday)
        self._handler_failures: set[tuple[str, str]] = set()

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
        self.report(self.intro())
        steady.previous_alerts_over(self)
        label_alerts(self.ctx, self.run_id)
        self._emit("drill_started")
        return self

    def intro(self) -> str:
        t, name = self.ctx.timings, self.expect.alertname
        return (f"drill {self.timeline.scenario}: expecting {name} ({self.expect.severity}) -> "
                f"{', '.join(sorted(self.expect.receivers))}; {t.label}: {t.describe(name)}")

    def __exit__(self, exc_type, exc, tb) -> None:
        # A failure caused by the Docker daemon going away is named as such, whatever check tripped on it.
        blamed = None if exc is None or isinstance(exc, (KeyboardInterrupt, DrillAborted)) else \
            daemon_trouble(self.ctx.stack, self.started)
        self._record_end(blamed or exc)
        try:
            with interrupts.shielded():  # a second Ctrl-C or a SIGTERM cannot skip a heal
                self.heal_all()
            noise.record(self)  # on every outcome; a sink that does not answer is reported, not raised
            if exc is None:
                firing.no_unexpected_alert_since_the_fault(self)
                self.steady_state(ending=True)  # every drill ends with the stack steady again
                noise.check(self.timeline, self.ctx.gameday.max_notifications)  # the gate, once all is judged
            elif blamed is None and isinstance(exc, DrillError) and not isinstance(exc, DrillAborted):
                exc.also(recovery.also_broken(self))  # the other promises it broke, judged from what it recorded
                self.timeline.error = str(exc)[:4000]
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
        """Play the undo stack (alertdrill.engine.undo) in reverse: heal every fault, stop every load and
        traffic, restore every guard; report all that could not be undone at the end rather than stop at
        the first."""
        errors = self._undo.unwind(self.report)
        if errors:
            raise DrillError("a fault could not be healed; the stack may be left broken",
                             seen="\n".join(errors), hint="run `alertdrill stack status`, then `alertdrill stack down` to reset")

    def alongside(self, traffic):
        """Background traffic (anything with `stop()`) kept running beside the drill and stopped when it
        ends, however it ends, or earlier with `end(traffic)`."""
        return self._undo.push(traffic, "traffic", type(traffic).__name__, traffic.stop)

    def end(self, item):
        """End one fault, load or traffic now (heal, stop), before the drill ends; returns its result."""
        return self._undo.end(item)

    def report(self, line: str) -> None:
        self.ctx.reporter(line)

    def _emit(self, method: str, *args) -> None:
        """Tell the handlers (the live view, the event log, a user's report). A handler that fails is
        reported, once per handler and event, and neither fails the drill nor hides its real error."""
        for handler in self.ctx.handlers:
            fn = getattr(handler, method, None)
            if fn is None:
                continue
            try:
                fn(self, *args)
            except Exception as exc:  # noqa: BLE001 (a view or a report must not decide a drill)
                key = (type(handler).__name__, method)
                if key not in self._handler_failures:
                    self._handler_failures.add(key)
                    self.report(f"  ! event handler {key[0]}.{method} failed ({exc!r}); the drill goes on")

    def mark(self, name: str, detail: str = "", at: float | None = None) -> None:
        """A timeline event, told to the handlers."""
        self._emit("marked", self.timeline.mark(name, detail, at))

    def sample(self) -> tuple[float, float | None, bool]:
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

    def progress(self, status: Callable[[], str]) -> Callable[[float], None]:
        def show(left: float) -> None:
            text = status()
            if self.ctx.progress_lines:  # off when a live view (alertdrill.engine.live) shows the waits
                self.report(f"    [{left:5.1f}s left] {text}")
            self._emit("progress", text, left)

        return show

    # -- before the fault ------------------------------------------------------------------------------
    def steady_state(self, timeout: float | None = None, *, ending: bool = False) -> None:
        """The target healthy and no alert active, until Prometheus has seen it so (steady.steady_state)."""
        steady.steady_state(self, timeout, ending=ending)

    def workload(self, load, warmup: float = 0.0) -> None:
        """Start background load (a LocustLoad) and let it warm up (steady.warm_up); stopped when the drill
        ends, or earlier with stop_workload()."""
        with self.phase(f"workload: {load.name} ({load.users} users)"):
            self._undo.push(load, "load", load.name, load.stop)
            load.start()
            self.mark("workload", " ".join(load.command()[3:5]))
            steady.warm_up(self, load, warmup)

    def stop_workload(self):
        """Stop the loads now and return their stats (name -> LoadStats)."""
        return {load.name: self.end(load) for load in self._undo.items("load")}

    def guard(self, guard: Guard) -> None:
        """Snapshot something the drill will change on purpose (e.g. the file a remediation edits), to be
        put back when the drill ends."""
        self._undo.push(guard, "guard", guard.name, lambda: guard.restore(self.ctx))
        self.report(f"    {guard.save(self.ctx)}")

    def inject(self, fault: Fault) -> Fault:
        """Inject the fault; it heals when the drill ends, or earlier with `end(fault)`."""
        with self.phase(f"fault: {fault.name}"):
            # registered first: a half-done injection still heals
            self._undo.push(fault, "fault", fault.name, lambda: fault.heal(self.ctx))
            done = fault.inject(self.ctx)
            self.mark("injected", done)
            self.report(f"    injected: {done}")
        return fault

    # -- the alert --------------------------------------------------------------------------------------
    def expect_firing(self) -> float:
        """The alert fires with its labels and reaches every receiver within the runbook's deadline (firing.py)."""
        return firing.expect_firing(self)

    def check_unexpected(self) -> None:
        firing.check_unexpected(self)

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
        """The cause goes, the alert resolves and stays resolved, the notices are judged (recovery.py)."""
        return recovery.expect_resolved(self)

    def mitigated(self) -> bool:
        return recovery.mitigated(self)

    def _check_limits(self) -> None:
        """DrillAborted past the maximum duration, or when an abort condition holds (alertdrill.engine.abort)."""
        self._aborts.check(self)

    def invariant(self, description: str, check: Callable[[], str]) -> str:
        """`check` returns a summary of what held, or raises InvariantViolated."""
        with self.phase(f"invariant: {description}") as p:
            summary = check()
            p.detail = str(summary)
            self.report(f"    held: {summary}")
            return summary
