"""Both directions ([promises]): a drill fails on an alert that fires sooner than the runbook's `for`
(firing.check_not_early, from Prometheus' own activeAt) and on a firing notice repeated sooner than the
runbook's repeat_interval (verdicts.not_repeated_early), as it fails on late ones. Against the recorded
timeline and stand-ins tied to the real classes; the drills prove it on the stack (tests/drill)."""
from __future__ import annotations

import pytest

import rulekit
from alertdrill.alerting.timings import Timings
from alertdrill.engine import firing, recovery
from alertdrill.engine.context import DrillContext
from alertdrill.engine.deadlines import PromiseClock
from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.observe import Observer
from alertdrill.engine.timeline import Timeline
from alertdrill.engine.verdicts import not_repeated_early
from alertdrill.errors import AlertNotFired, NotificationLate
from tests.doubles import stand_in

EXPECT = AlertExpectation("RedisDisconnected", severity="critical", receivers=frozenset({"pagerduty"}), threshold="== 0")


def drill_that_saw(pending_for: float) -> Drill:
    """A drill whose alert was first seen firing `pending_for` seconds after its rule's activeAt."""
    d = stand_in(Drill, ctx=stand_in(DrillContext, timings=Timings.from_files(30), promises=rulekit.promises()),
                 expect=EXPECT, obs=stand_in(Observer, situation=lambda: "RedisDisconnected: firing"),
                 timeline=Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30))
    d.timeline.mark("active", at=1000.0)
    d.timeline.mark("firing", at=1000.0 + pending_for)
    return d


EVAL_S = Timings.from_files(30).evaluation_s  # the drill stack's evaluation interval at x30


@pytest.mark.parametrize("pending_for", [2.0, 2.0 - EVAL_S, 30.0])
def test_an_alert_that_held_its_for_is_not_early(pending_for):
    firing.check_not_early(drill_that_saw(pending_for))  # for 1m at x30 = 2 s, less one evaluation


@pytest.mark.parametrize("pending_for", [0.0, 0.6 * (2.0 - EVAL_S), 2.0 - EVAL_S - 0.05])
def test_an_alert_that_fired_before_its_for_is_early(pending_for):
    with pytest.raises(AlertNotFired, match=r"RedisDisconnected fired [0-9.]+s after its condition began "
                                            r"to hold, sooner than the runbook's `for` \(2s at drill speed\)"):
        firing.check_not_early(drill_that_saw(pending_for))


def notices(*rows: tuple[str, float]) -> Timeline:
    t = Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30,
                 repeat_after={"pagerduty": 480.0})
    t.notifications = [{"receiver": "pagerduty", "status": status, "at": at} for status, at in rows]
    return t


def test_one_page_per_incident_and_a_flap_is_no_repeat():
    assert not_repeated_early(notices(("firing", 10.0), ("resolved", 40.0)), EXPECT) == []
    assert not_repeated_early(notices(("firing", 10.0), ("resolved", 40.0), ("firing", 50.0)), EXPECT) == []
    assert not_repeated_early(notices(("firing", 10.0), ("firing", 500.0)), EXPECT) == []  # after 8 min: a repeat


def test_a_page_repeated_sooner_than_the_repeat_interval_is_broken():
    [broken] = not_repeated_early(notices(("firing", 10.0), ("firing", 21.0), ("resolved", 30.0)), EXPECT)
    assert broken.what == ("RedisDisconnected's firing notice was repeated early: pagerduty again after 11.0s "
                           "(repeat_interval 480s)")
    other = notices(("firing", 10.0))
    other.notifications.append({"receiver": "pagerduty", "status": "firing", "at": 12.0, "alert": "HighErrorRate"})
    assert not_repeated_early(other, EXPECT) == []  # another alert's notice is not this alert's repeat


def test_a_page_and_its_mail_are_not_a_repeat():
    t = notices(("firing", 10.0))
    t.notifications = [{"receiver": "pagerduty", "integration": i, "status": "firing", "at": 10.0 + n * 0.01}
                       for n, i in enumerate(("pagerduty", "email"))]
    assert not_repeated_early(t, EXPECT) == []
    t.notifications.append({"receiver": "pagerduty", "integration": "email", "status": "firing", "at": 30.0})
    [broken] = not_repeated_early(t, EXPECT)
    assert "pagerduty by email again after 20.0s" in broken.what


def drill_with_samples(values: list[float | None], *, start: float | None) -> tuple[Drill, PromiseClock]:
    d = drill_that_saw(2.0)
    d.obs = stand_in(Observer, watch="min(redis_connected)", situation=lambda: "RedisDisconnected: firing")
    d.timeline.mark("pending", at=1000.0)
    d.timeline.samples = [[1000.0 + i, v] for i, v in enumerate(values)]
    clock = PromiseClock.for_alert(rulekit.promises(), Timings.from_files(30), "RedisDisconnected", {"pagerduty"})
    clock.holds_since = start
    return d, clock


def test_an_alert_fired_with_its_condition_or_without_data_passes():
    firing.check_crossed(*drill_with_samples([0.0, 0.0, 0.0], start=1000.0))
    firing.check_crossed(*drill_with_samples([None, 1.0, None], start=None))  # two samples prove nothing


def test_an_alert_fired_while_the_value_stayed_healthy_is_broken():
    with pytest.raises(AlertNotFired, match=r"fired, but min\(redis_connected\) never met the runbook's condition "
                                            r"\(== 0\)(.|\n)*3 samples from 1 to 1"):
        firing.check_crossed(*drill_with_samples([1.0, 1.0, 1.0], start=None))


def drill_resolved(after_healthy: float) -> Drill:
    d = drill_that_saw(2.0)
    d.timeline.mark("mitigated", at=2000.0)
    d.timeline.mark("resolved-notified:pagerduty", at=2000.0 + after_healthy)
    return d


def test_a_resolved_notice_within_the_runbooks_group_interval_passes():
    t = Timings.from_files(30)
    due = t.resolved_notice_deadline(rulekit.promises().receiver_timers("pagerduty").group_interval_ms)
    assert due.seconds == t.scrape_s + t.evaluation_s + 10.0 + t.deadline_margin_s  # 5m at x30
    recovery.resolved_in_time(drill_resolved(due.seconds - 0.1))


def test_a_resolved_notice_later_than_the_runbook_promises_is_broken():
    with pytest.raises(NotificationLate, match=r"resolved notice reached pagerduty 40.0s after the watched value "
                                               r"was healthy again(.|\n)*group_interval 10s"):
        recovery.resolved_in_time(drill_resolved(40.0))
