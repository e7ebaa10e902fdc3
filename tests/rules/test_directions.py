"""Both directions ([promises]): a drill fails on an alert that fires sooner than the runbook's `for`
(firing.check_not_early, from Prometheus' own activeAt) and on a firing notice repeated sooner than the
runbook's repeat_interval (verdicts.not_repeated_early), as it fails on late ones. Against the recorded
timeline and stand-ins tied to the real classes; the drills prove it on the stack (tests/drill)."""
from __future__ import annotations

import pytest

import rulekit
from alertdrill.alerting.timings import Timings
from alertdrill.engine import firing
from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.observe import Observer
from alertdrill.engine.timeline import Timeline
from alertdrill.engine.verdicts import not_repeated_early
from alertdrill.errors import AlertNotFired
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
