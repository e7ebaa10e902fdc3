"""The alert fires and reaches its receivers: labels judged as soon as they show, each receiver's first
notice within the runbook's deadline from when the condition started to hold, the notices telling people
what they need, no alert nobody expected. Functions of the running drill (alertdrill.engine.runner)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from alertdrill.config import current as current_config
from alertdrill.engine import delivered
from alertdrill.engine.deadlines import PromiseClock
from alertdrill.engine.observe import notice_problems
from alertdrill.engine.runner import PROGRESS_EVERY_S
from alertdrill.errors import AlertNotFired, NotificationLate, NotificationMissing, UnexpectedAlert
from alertdrill.target.clients.prometheus import AlertState
from alertdrill.target.clients.timestamps import epoch
from alertdrill.wait import until

if TYPE_CHECKING:
    from alertdrill.engine.runner import DrillRun


def expect_firing(d: "DrillRun") -> float:
    """Wait until the alert fires with the expected labels and every expected receiver has the
    firing notification, each within the runbook's deadline after the alert's condition started to
    hold; fail early if an alert that nobody expected fires."""
    t, name = d.ctx.timings, d.expect.alertname
    # Labels without a template are the rule's own: a pending instance already shows those it fires with.
    static_labels = not any("{{" in str(v) for v in (d.obs.loaded_rule().get("labels") or {}).values())
    d.timeline.fire_floor, d.timeline.resolve_floor = t.floors(name, d.ctx.promises)
    clock = PromiseClock.for_alert(d.ctx.promises, t, name, d.expect.receivers)
    d.timeline.deadlines = dict(clock.deadlines_s)
    d.timeline.repeat_after = {r: t.drill_s(d.ctx.promises.receiver_timers(r).repeat_interval_ms)
                               for r in sorted(d.expect.receivers) if r in d.ctx.promises.timers}
    timeout = d.ctx.fire_deadline(name).seconds  # for the fault to cause the symptom at all
    d.timeline.fire_deadline = clock.longest_s
    injected = d.timeline.last("injected")
    since = injected.at if injected else d.started
    seen: dict = {"state": "inactive", "got": {}}

    def fired() -> bool:
        now, value, answered = d.sample()
        states = d.obs.alert_states()
        note_states(d, states)
        firing = [a for a in states if a.state == "firing"]
        note_active_since(d, firing)
        if answered:
            clock.observe(now, value, firing=bool(firing))
        judged = firing or (states if static_labels else [])
        if judged and not any(d.expect.matches(a.labels) for a in judged):
            raise AlertNotFired(
                f"{name} {'fired' if firing else 'is pending'} with the wrong labels",
                expected=f"severity={d.expect.severity} {d.expect.labels or ''}".strip(),
                seen="\n".join(f"labels {a.labels}" for a in judged) + "\n" + d.obs.situation(),
                hint="check the rule's labels in the rules file (was the severity changed?)"
                     + ("" if firing else "; they have no template, so it would fire with these"))
        d.check_unexpected()
        seen["got"] = notified(d, "firing", since)
        seen["state"] = "firing" if firing else (states[0].state if states else "inactive")
        done = bool(firing) and set(seen["got"]) >= d.expect.receivers
        # Firing, and a receiver or one of its integrations still unheard: a failed notification ends the wait.
        seen["unsent"] = delivered.unsent(d, "firing", d.obs.notifications("firing", since)) if done else \
            sorted(d.expect.receivers - set(seen["got"])) if firing else []
        if seen["unsent"]:
            delivered.raise_if_failed(d, seen["unsent"])
        done = done and not seen["unsent"]
        if not done and clock.overdue(now):
            fail_firing(d, clock.longest_s, seen["state"] == "firing", set(seen["got"]), clock)
        return done

    with d.phase(f"{name} fires"):
        until(fired, timeout, poll=d.POLL, every=PROGRESS_EVERY_S,
              on_timeout=lambda: fail_firing(d, timeout, seen["state"] == "firing", set(seen["got"]), None),
              progress=d.progress(lambda: f"{name} {seen['state']}; {d.obs.watched()}; notified: "
                                              f"{', '.join(sorted(seen['got'])) or 'none'}"))
        if clock.start is not None:
            d.mark("condition", f"{d.obs.watch} {clock.promise.threshold} since", at=clock.start)
        check_onset(d, clock)
        check_deadlines(d, clock, seen["got"])
        check_notices(d, since)
        delivered.check_shown(d, since)
    return time.time() - since


def note_active_since(d: "DrillRun", firing: list[AlertState]) -> None:
    """When the alert first shows firing, when Prometheus' rule says its condition began to hold (the
    instance's activeAt), on the timeline as `active`: how long it was pending before it fired."""
    if firing and not d.timeline.first("active"):
        began = min((epoch(a.active_at) for a in firing if epoch(a.active_at)), default=None)
        if began is not None:
            d.mark("active", "the rule's condition held since (activeAt)", at=began)


def check_not_early(d: "DrillRun") -> None:
    """Not too early: the alert fired no sooner than the runbook's `for` after its rule's condition began to
    hold (less one evaluation interval, which the rule's own clock may round). A rule whose `for` was
    dropped or shortened fires on a blip; this is where a drill sees it."""
    active, fired = d.timeline.first("active"), d.timeline.first("firing")
    promised = d.ctx.timings.drill_s(d.ctx.promises.alert(d.expect.alertname).for_ms)
    if active is None or fired is None or fired.at - active.at >= promised - d.ctx.timings.evaluation_s:
        return
    raise AlertNotFired(
        f"{d.expect.alertname} fired {fired.at - active.at:.1f}s after its condition began to hold, sooner than "
        f"the runbook's `for` ({promised:g}s at drill speed)",
        expected=f"firing no sooner than {promised:g}s (less one evaluation, "
                 f"{d.ctx.timings.evaluation_s:g}s) after the rule's condition started to hold",
        seen=d.obs.situation(),
        hint="compare the rule's `for` with the runbook's alert index: a `for` dropped or shortened pages on a blip")


def check_onset(d: "DrillRun", clock: PromiseClock) -> None:
    """The alert fired neither before its `for` nor without the runbook's condition."""
    check_not_early(d)
    check_crossed(d, clock)


def check_crossed(d: "DrillRun", clock: PromiseClock) -> None:
    """Not an alert without its condition: the alert fired while every sample of the watched value, from
    the moment it went pending, stayed on the healthy side of the runbook's threshold. The rule and the
    runbook disagree (a threshold drifted on either side); no deadline could even be counted. A drill
    with fewer than three samples in that stretch (a metric gone with its target) proves nothing here."""
    began = d.timeline.first("pending") or d.timeline.first("firing")
    if clock.start is not None or began is None or not d.obs.watch:
        return
    values = [v for at, v in d.timeline.samples if at >= began.at and v is not None]
    if len(values) < 3:
        return
    raise AlertNotFired(
        f"{d.expect.alertname} fired, but {d.obs.watch} never met the runbook's condition "
        f"({clock.promise.threshold}) while it was pending or firing",
        expected=f"{d.expect.alertname} firing only once {d.obs.watch} {clock.promise.threshold} held for its `for`",
        seen=f"{len(values)} samples from {min(values):.3g} to {max(values):.3g}\n" + d.obs.situation(),
        hint="the rule's threshold and the runbook's alert index differ: compare them (and the watched expression)")


def check_notices(d: "DrillRun", since: float) -> None:
    """What reaches people: every firing notice carries a summary, a description and a runbook_url
    that opens this alert's section of the runbook."""
    problems = notice_problems(d.obs.notifications("firing", since), d.expect.alertname, d.ctx.runbook)
    if problems:
        raise NotificationMissing(
            f"{d.expect.alertname}'s notices do not tell people what they need",
            expected="summary, description and a runbook_url that leads to this runbook, to the alert's section",
            seen="\n".join(problems),
            hint="check the rule's annotations in the rules file against the runbook's headings")


def check_deadlines(d: "DrillRun", clock: PromiseClock, notified_at: dict[str, float]) -> None:
    late = clock.late(notified_at)
    if late:
        t = d.ctx.timings
        raise NotificationLate(
            f"{d.expect.alertname} reached " + ", ".join(f"{r} {s:.1f}s" for r, s in sorted(late.items()))
            + " after its condition started to hold, later than the runbook promises",
            expected="; ".join(f"{r} within {clock.explain(t, r, d.ctx.promises)}" for r in sorted(late)),
            seen=d.obs.situation(),
            hint="a timer on the route that delivers it (group_wait, a child route's override) or the rule's "
                 "`for` is longer than the runbook says: compare the Alertmanager config and the rule with "
                 "the runbook's alert index and notification timing tables")


def note_states(d: "DrillRun", states: list[AlertState]) -> None:
    for a in states:
        if not d.timeline.first(a.state):
            d.mark(a.state, f"value {a.value:.3g}")


def notified(d: "DrillRun", status: str, since: float) -> dict[str, float]:
    """Receivers that got a `status` notice of our alert since `since` -> when the first came; each
    marked on the timeline."""
    got: dict[str, float] = {}
    for n in sorted(d.obs.notifications(status, since), key=lambda n: n.received_at):
        got.setdefault(n.receiver, n.received_at)
        event = f"{'notified' if status == 'firing' else 'resolved-notified'}:{n.receiver}"
        if not any(e.name == event for e in d.timeline.events):
            d.mark(event, at=n.received_at)
        # every notice, repeats included (the verdicts count them)
        d.timeline.keep_notice({"receiver": n.receiver, "integration": n.integration, "status": n.status,
                                "at": round(n.received_at, 3)})
    return got


def check_unexpected(d: "DrillRun") -> None:
    for a in d.obs.unexpected_firing():
        unexpected(d, a.name, a.labels.get("severity", ""), "fired")


def unexpected(d: "DrillRun", alert: str, severity: str, when: str) -> None:
    allowed = sorted(d.expect.side_effects)
    raise UnexpectedAlert(
        f"{severity} alert {alert} {when} during the {d.expect.alertname} drill",
        expected=f"only {d.expect.alertname}" + (f" and the named side effects {allowed}" if allowed else ""),
        seen=d.obs.situation(),
        hint=f"if {alert} is a real consequence of this fault, name it as a side effect in the scenario "
             f"with the reason; if it was renamed from {d.expect.alertname}, fix the rule's name")


def no_unexpected_alert_since_the_fault(d: "DrillRun") -> None:
    """From the first injection to now, by Prometheus' own history: only the expected alert and the
    named side effects fired, whatever their severity. Side effects that paged are recorded."""
    first = next((e for e in d.timeline.events if e.name == "injected"), None)
    if first is None:
        return
    for alert, severities in sorted(d.obs.fired_since(first.at).items()):
        if alert != d.expect.alertname and alert not in d.expect.side_effects:
            unexpected(d, alert, "/".join(sorted(severities)), "fired at some point")
    paged = d.obs.side_effects_paged(first.at)
    d.timeline.side_effects = {a: {"reason": d.expect.side_effects[a], "reached": sorted(r)}
                                  for a, r in paged.items()}
    for alert, receivers in sorted(paged.items()):
        d.report(f"    side effect {alert} reached {', '.join(sorted(receivers))}: "
                    f"{d.expect.side_effects[alert]}")


def fail_firing(d: "DrillRun", timeout: float, firing: bool, got: set[str], clock: PromiseClock | None) -> None:
    name = d.expect.alertname
    after = ("of its condition holding (the runbook's deadline)" if clock is not None
             else "of the fault")
    if firing and got >= d.expect.receivers:
        unsent = delivered.unsent(d, "firing", d.obs.notifications("firing", d.started))
        raise NotificationMissing(
            f"{name} fired and reached every receiver, but not by {', '.join(unsent)} within {timeout:.0f}s {after}",
            expected="a firing notice by every integration the runbook's Receivers table names",
            seen="\n".join(delivered.problems(d.obs.notifications("firing", d.started), d.expect.severity,
                                              d.expect.receivers, d.ctx.promises.deliveries, resolved=False))
                 + "\n" + d.obs.situation(),
            hint="check that receiver's integrations in the Alertmanager config (its address, send_resolved)")
    if firing:
        missing = sorted(d.expect.receivers - got)
        labels = {"alertname": name, "severity": d.expect.severity, **d.expect.labels}
        raise NotificationMissing(
            f"{name} fired but {', '.join(missing)} got no notification within {timeout:.0f}s {after}",
            expected=f"firing notifications to {sorted(d.expect.receivers)}",
            seen=d.obs.situation(),
            hint=f"check the Alertmanager routing: amtool config routes test --config.file="
                 f"{current_config().alertmanager} --verify.receivers=... "
                 + " ".join(f"{k}={v}" for k, v in labels.items()))
    states = d.obs.alert_states()
    never = not d.timeline.first("pending")
    raise AlertNotFired(
        f"{name} did not fire within {timeout:.0f}s {after}",
        expected=f"{name} firing with severity={d.expect.severity}",
        seen=d.obs.situation(),
        hint=("the rule's condition never became true: is the threshold reachable and the metric "
              f"present? Try {d.ctx.endpoints.prometheus}/graph?g0.expr=" + d.obs.watch)
        if never else (f"it went pending but never fired ({states[0].state if states else 'inactive'} now): "
                       "is `for` longer than the drill allows, or did the condition flap?"))
