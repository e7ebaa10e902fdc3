"""The phases before the fault: steady state (the target healthy and every alert quiet, until Prometheus
has seen it so) and the workload's warm-up (the load alone raises nothing, and the fault starts from a
quiet baseline). Each is a function of the running drill (alertdrill.engine.runner.DrillRun)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from alertdrill.config import current as current_config
from alertdrill.engine.monitoring import rules_dir
from alertdrill.engine.observe import Evaluated
from alertdrill.engine.runner import PROGRESS_EVERY_S
from alertdrill.errors import DrillError, SteadyStateError
from alertdrill.target import health
from alertdrill.wait import until

if TYPE_CHECKING:
    from alertdrill.engine.runner import DrillRun


def steady_state(d: "DrillRun", timeout: float | None = None, *, ending: bool = False) -> None:
    """The target healthy (alertdrill.target.health: containers, readiness paths, the platform's own
    checks) and no alert pending or firing anywhere, in a row until Prometheus shows every target
    scraped and every rule group evaluated since (Observer.evaluated), and at most for the timing
    model's fixed hold, which alone decides where Prometheus cannot tell. `ending`: the drill's last
    check, where its own named side effects may still be pending while their windows drain (minutes
    at production timings); firing they still count."""
    timeout = timeout or d.ctx.timeouts.steady
    tolerate = frozenset(d.expect.side_effects) if ending else frozenset()
    hold = d.ctx.timings.steady_hold_s
    seen = {"problems": [], "clean_since": None}

    def steady() -> bool:
        since = seen["clean_since"]
        # Asked before the alerts are read: the states read next come from those evaluations or later.
        evaluated = since is not None and d.obs.evaluated(since)
        seen["problems"] = d.obs.steady_problems(tolerate)
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
            expected=health.describe(current_config()),
            seen="\n".join(seen["problems"]) + "\n" + d.obs.situation(),
            hint=_left_behind(d))

    with d.phase("steady state"):
        until(steady, timeout, poll=d.POLL, on_timeout=fail, every=PROGRESS_EVERY_S,
              progress=d.progress(lambda: "waiting for steady state: " + "; ".join(seen["problems"])))


def _left_behind(d: "DrillRun") -> str:
    return ("a previous drill may have left a fault behind: `alertdrill stack status`, "
            f"{d.ctx.endpoints.prometheus}/alerts, or `alertdrill stack down` and rerun")


def warm_up(d: "DrillRun", load, warmup: float) -> None:
    """Let the load run `warmup` seconds, and on until no alert is pending: the expected alert must stay
    silent and no unexpected alert may fire, so the alert later comes from the fault, not the load."""

    def still_quiet() -> bool:
        if not load.running:
            raise DrillError(f"the load {load.name} stopped during warm-up",
                             seen=f"see {load.log_path}", hint="run the locustfile by hand to see why")
        if any(a.state == "firing" for a in d.obs.alert_states()):
            raise SteadyStateError(f"{d.expect.alertname} fired from the load alone, before any fault",
                                   seen=d.obs.situation(),
                                   hint="the workload is too heavy for this alert's threshold")
        d.check_unexpected()
        d.sample()
        return False  # the warm-up only ends with its time

    until(still_quiet, warmup, poll=d.POLL, on_timeout=lambda: None, every=PROGRESS_EVERY_S,
          progress=d.progress(lambda: f"warm-up; {d.obs.watched()}"))
    quiet_baseline(d, still_quiet)


def quiet_baseline(d: "DrillRun", still_quiet: Callable[[], bool]) -> None:
    """The warm-up goes on while any alert is pending or firing: the fault starts from a quiet
    baseline. An alert already pending from the load (say a latency spike while the other lane restarts
    its backend) would fire early and be taken for the fault's, or notify before the alert that should
    inhibit it."""
    seen = {"active": []}

    def quiet() -> bool:
        still_quiet()
        seen["active"] = d.obs.active_alerts()
        return not seen["active"]

    if quiet():
        return
    d.mark("warm-up-extended", ", ".join(seen["active"]))
    timeout = d.ctx.timeouts.steady

    def fail() -> None:
        raise SteadyStateError(f"alerts stayed active under the load alone for {timeout:.0f}s after the warm-up",
                               expected="no alert pending or firing before the fault",
                               seen=", ".join(seen["active"]) + "\n" + d.obs.situation(),
                               hint="the workload is too heavy for those alerts' thresholds, or the machine is "
                                    "overloaded (another drill lane, another job): lighten the load or run LANES=1")

    until(quiet, timeout, poll=d.POLL, on_timeout=fail, every=PROGRESS_EVERY_S,
          progress=d.progress(lambda: "warm-up goes on until no alert is active: "
                                          + ", ".join(seen["active"])))


def previous_alerts_over(d: "DrillRun") -> None:
    """Before a drill labels its alerts (alertdrill.engine.monitoring): no alert pending or firing, under the
    previous drill's label. A drill that failed on purpose ends without waiting for steady state, and its
    condition (say errors still inside the rule's window) would otherwise hold on under the new label:
    this drill's alert would fire early from it, open its Alertmanager group, and the fault's own notice
    would then wait for that group's group_interval instead of group_wait (ci13, stop 33)."""
    if not rules_dir(d.ctx):
        return  # production's rules: no label changes, and the drill's steady state judges them
    seen = {"active": d.obs.active_alerts()}
    if not seen["active"]:
        return
    d.report(f"  waiting for the previous drill's alerts to end: {', '.join(seen['active'])}")
    timeout = d.ctx.timeouts.steady

    def over() -> bool:
        seen["active"] = d.obs.active_alerts()
        return not seen["active"]

    def fail() -> None:
        raise SteadyStateError(f"alerts stayed active for {timeout:.0f}s before the drill began",
                               expected="no alert pending or firing before the drill labels its alerts",
                               seen=", ".join(seen["active"]) + "\n" + d.obs.situation(),
                               hint=_left_behind(d))

    until(over, timeout, poll=d.POLL, on_timeout=fail)
