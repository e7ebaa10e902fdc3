"""After the remediation: the cause goes within its deadline, the alert resolves on data and every
receiver gets the resolved notice, it stays resolved for one `for`, and the recorded notices are judged
(alertdrill.engine.verdicts). Functions of the running drill (alertdrill.engine.runner)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from alertdrill.alerting.timings import Deadline
from alertdrill.engine import delivered
from alertdrill.engine.firing import notified
from alertdrill.engine.runner import PROGRESS_EVERY_S
from alertdrill.engine.verdicts import judge
from alertdrill.errors import AlertNotResolved, NotificationLate
from alertdrill.runbook.promises import Threshold
from alertdrill.target.clients.prometheus import AlertState
from alertdrill.wait import until

if TYPE_CHECKING:
    from alertdrill.engine.runner import DrillRun


def expect_resolved(d: "DrillRun") -> float:
    name = d.expect.alertname
    timeout = d.ctx.resolve_deadline(name).seconds
    remediated = d.timeline.first("remediated")
    since = remediated.at if remediated else time.time()
    # Inactive counts as resolved only on data: not while a target restarted by the remediation has
    # yet to be scraped for the rule's whole window (or two scrapes, for a rule without a window).
    window = max(d.ctx.timings.window_s(name), 2 * d.ctx.timings.scrape_s)
    # The cause must be gone well before the resolved notices are due: a remediation that changed
    # nothing fails at this deadline, not after three resolve floors more of waiting.
    mitigate_by = d.ctx.mitigate_deadline(name)
    seen: dict = {"states": [], "gaps": [], "got": set(), "unsent": []}

    def resolved() -> bool:
        d.sample()
        note_mitigated(d)
        seen["states"] = d.obs.alert_states()
        seen["gaps"] = [] if seen["states"] else d.obs.scrape_gaps(window)
        inactive = not seen["states"] and not seen["gaps"]
        if inactive and not d.timeline.first("resolved"):
            d.mark("resolved")
        cause_gone = d.timeline.first("resolved") or d.timeline.first("mitigated")
        if not cause_gone and time.time() - since > mitigate_by.seconds:
            cause_not_removed(d, mitigate_by, seen["states"], seen["gaps"])
        seen["got"] = set(notified(d, "resolved", since))
        seen["unsent"] = delivered.unsent(d, "resolved", d.obs.notifications("resolved", since))  # every integration
        return inactive and seen["got"] >= d.expect.receivers and not seen["unsent"]

    def fail() -> None:
        states, gaps, got = seen["states"], seen["gaps"], seen["got"]
        what = "kept firing" if states else \
            f"was inactive only on missing data ({', '.join(gaps)} down within its {window:g}s window)" if gaps else \
            f"resolved but the resolved notice did not reach {sorted(d.expect.receivers - got) or seen['unsent']}"
        raise AlertNotResolved(
            f"{name} {what} {timeout:.0f}s after the remediation",
            expected="the alert inactive with every target scraped through its window, and a resolved "
                     "notice at every receiver",
            seen=d.obs.situation(),
            hint="the remediation did not remove the cause" if states else
                 "a target the remediation restarted did not come back" if gaps else
                 "check send_resolved on the receivers in the Alertmanager config")

    def status() -> str:
        state = seen["states"][0].state if seen["states"] else "inactive"
        if seen["gaps"]:
            state += f" (no data: {', '.join(seen['gaps'])} down within the {window:g}s window)"
        return (f"{name} {state}; {d.obs.watched()}; resolved notices: "
                f"{', '.join(sorted(seen['got'])) or 'none'}")

    with d.phase(f"{name} resolves"):
        until(resolved, timeout, poll=d.POLL, on_timeout=fail, every=PROGRESS_EVERY_S,
              progress=d.progress(status))
    took = time.time() - since
    resolved_in_time(d)
    stays_resolved(d)
    verdicts_hold(d)
    return took


def resolved_in_time(d: "DrillRun") -> None:
    """Not late the other way: each receiver's resolved notice within the runbook's promise, counted from
    the first sample back on the healthy side (`mitigated`). A rule that keeps firing after its condition
    ended (keep_firing_for) or a group_interval longer than the runbook's is caught here, not hidden by the
    generous wait for recovery. Nothing to count from when the drill saw no healthy sample."""
    healthy = d.timeline.first("mitigated")
    if healthy is None:
        return
    t, name = d.ctx.timings, d.expect.alertname
    late = {}
    for r in sorted(d.expect.receivers):
        got = d.timeline.first(f"resolved-notified:{r}")
        if got is None or r not in d.ctx.promises.timers:
            continue
        due = t.resolved_notice_deadline(d.ctx.promises.receiver_timers(r).group_interval_ms)
        if got.at - healthy.at > due.seconds:
            late[r] = (got.at - healthy.at, due)
    if late:
        raise NotificationLate(
            f"{name}'s resolved notice reached " + ", ".join(f"{r} {s:.1f}s" for r, (s, _) in late.items())
            + " after the watched value was healthy again, later than the runbook promises",
            expected="; ".join(f"{r} within {due.why}" for r, (_, due) in late.items()),
            seen=d.obs.situation(),
            hint="the rule keeps firing after its condition ended (keep_firing_for), or a route's "
                 "group_interval is longer than the runbook's notification timing table says")


def cause_not_removed(d: "DrillRun", deadline: Deadline, states: list[AlertState], gaps: list[str]) -> None:
    """AlertNotResolved: neither the watched value back on its healthy side nor the alert inactive
    (on data) within the mitigation deadline after the remediation."""
    name = d.expect.alertname
    what = ("kept firing" if any(a.state == "firing" for a in states) else
            f"stayed {states[0].state}" if states else
            f"was inactive only on missing data ({', '.join(gaps)} down)")
    raise AlertNotResolved(
        f"{name} {what} {deadline.seconds:.0f}s after the remediation: the watched value never came back on "
        f"its healthy side ({d.obs.watched() or 'no watched value'})",
        expected=f"the cause gone within {deadline.seconds:g}s of the remediation: the watched value healthy or "
                 f"the alert inactive ({deadline.why})",
        seen=d.obs.situation(),
        hint="the remediation did not remove the cause" if states else
             "a target the remediation restarted did not come back")


def stays_resolved(d: "DrillRun") -> None:
    """Resolved means recovered: the alert stays inactive (not even pending) for the hold period, one
    `for` at drill speed, long enough to fire again if the cause were still there."""
    name = d.expect.alertname
    hold = d.ctx.timings.resolved_hold_s(d.ctx.promises.alert(name).for_ms)
    resolved = d.timeline.first("resolved")

    def still_inactive() -> bool:
        d.sample()
        states = d.obs.alert_states()
        if states:
            ago = time.time() - resolved.at if resolved else 0.0
            raise AlertNotResolved(
                f"{name} came back ({states[0].state}) {ago:.1f}s after it resolved",
                expected=f"{name} inactive for {hold:g}s after resolving (one `for` at drill speed)",
                seen=d.obs.situation(),
                hint="the remediation did not remove the cause: the signal only dipped under the threshold")
        return False  # the hold only ends with its time

    with d.phase(f"{name} stays resolved ({hold:g}s)"):
        until(still_inactive, hold, poll=d.POLL, on_timeout=lambda: None, every=PROGRESS_EVERY_S,
              progress=d.progress(lambda: f"holding; {d.obs.watched()}"))


def mitigated(d: "DrillRun") -> bool:
    """Sample the watched value; True once it is back on its healthy side (marked `mitigated`), or,
    for an expectation without a threshold, once the alert is no longer active."""
    d.sample()
    if Threshold.read(d.expect.threshold) is None:
        if not d.timeline.first("mitigated") and not d.obs.alert_states():
            d.mark("mitigated", f"{d.expect.alertname} inactive")
    else:
        note_mitigated(d)
    return d.timeline.first("mitigated") is not None


def note_mitigated(d: "DrillRun") -> None:
    """Mark `mitigated` at the first sample back on the healthy side of the threshold."""
    threshold = Threshold.read(d.expect.threshold)
    if threshold is None or d.timeline.first("mitigated") or not d.timeline.samples:
        return
    at, value = d.timeline.samples[-1]
    if threshold.healthy(value):
        d.mark("mitigated", f"{d.obs.watch} = {value:.3g}", at=at)


def record_notifications(d: "DrillRun") -> None:
    """Every notice of the alert since the drill began, onto the timeline (the verdicts read it)."""
    for status in ("firing", "resolved"):
        notified(d, status, d.started)
    delivered.record(d, d.obs.notifications(None, d.started))


def verdicts_hold(d: "DrillRun") -> None:
    """Record, then judge (alertdrill.engine.verdicts): the first broken promise raises, naming the others."""
    record_notifications(d)
    found = judge(d.timeline, d.expect)
    if found:
        found[0].raise_with(d.obs.situation(), found[1:])


def also_broken(d: "DrillRun") -> list[str]:
    """What the verdicts find broken besides the failure that stopped the drill; nothing when the sink
    cannot be read (the failure stands on its own)."""
    try:
        record_notifications(d)
    except Exception as exc:  # noqa: BLE001 (the failure in hand is the one to report)
        return [f"(the other verdicts could not be judged: {exc})"]
    return [b.what for b in judge(d.timeline, d.expect)]
