"""Steady state holds until Prometheus has scraped every target and evaluated every rule group since the
stack looked steady, and at most the timing model's fixed hold: against stand-ins for Prometheus' API
and the drill's observer (tied to the Observer's interface: tests/doubles.py), no containers."""
from __future__ import annotations

import time
from datetime import datetime, timezone
import pytest

from alertdrill.alerting.timings import Timings
from alertdrill.engine.context import DrillContext, Timeouts
from alertdrill.engine import drill as drill_module, steady
from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.observe import EVALUATION_JITTER_S, Evaluated, Observer
from alertdrill.engine.timeline import Timeline
from alertdrill.target.settings import Endpoints
from alertdrill.target.stack import Stack
from tests.doubles import stand_in
from alertdrill.errors import SteadyStateError

T0 = 1_800_000_000.0


def rfc3339(t: float) -> str:
    """As Prometheus writes it: nanoseconds and Z."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def target(scraped: float, took: float = 0.002) -> dict:
    return {"lastScrape": rfc3339(scraped), "lastScrapeDuration": took}


def group(evaluated: float | None) -> dict:
    return {"lastEvaluation": "0001-01-01T00:00:00Z" if evaluated is None else rfc3339(evaluated)}


def test_every_target_scraped_then_every_group_evaluated_is_evaluated():
    e = Evaluated(T0)
    targets = [target(T0 + 0.2), target(T0 + 0.7, took=0.05)]
    assert e.look(targets, [group(T0 + 0.75 + EVALUATION_JITTER_S + 0.01)]) is True


def test_a_target_last_scraped_before_the_stack_looked_steady_is_not():
    assert Evaluated(T0).look([target(T0 - 0.1), target(T0 + 0.5)], [group(T0 + 2)]) is False


def test_an_evaluation_that_started_before_the_scrapes_ended_is_not():
    targets = [target(T0 + 0.2), target(T0 + 0.7, took=0.05)]
    assert Evaluated(T0).look(targets, [group(T0 + 0.74)]) is False
    # within the jitter allowance: its tick may have come before the scrape
    assert Evaluated(T0).look(targets, [group(T0 + 0.75 + EVALUATION_JITTER_S / 2)]) is False


def test_the_scrapes_are_marked_at_the_first_look_that_finds_them_all():
    """Targets are scraped at offsets of their own, so at any look one of them was scraped after the
    latest evaluation: the evaluations are judged against the scrapes the first look found."""
    e = Evaluated(T0)
    assert e.look([target(T0 + 0.2), target(T0 + 0.9)], [group(T0 + 0.5)]) is False
    # a second look: both targets scraped again (one just now), the group evaluated after the marked scrapes
    assert e.look([target(T0 + 1.2), target(T0 + 1.9)], [group(T0 + 1.5)]) is True
    assert e.scraped_by == pytest.approx(T0 + 0.902, abs=1e-3)


def test_one_group_behind_is_enough_to_wait():
    assert Evaluated(T0).look([target(T0 + 0.2)], [group(T0 + 1.5), group(T0 + 0.1)]) is False


def test_a_group_reloaded_and_not_yet_evaluated_is_not():
    assert Evaluated(T0).look([target(T0 + 0.2)], [group(T0 + 1.5), group(None)]) is False


def test_nothing_to_tell_by_is_none():
    assert Evaluated(T0).look([], [group(T0 + 2)]) is None
    assert Evaluated(T0).look([target(T0 + 1)], []) is None


def observed(problems=lambda t: [], evaluated=lambda t: False, situation="situation"):
    """The drill's observer: problems and evaluation answers over time since the first look."""
    start = time.monotonic()

    def now() -> float:
        return time.monotonic() - start

    return stand_in(Observer, steady_problems=lambda tolerate_pending=frozenset(): problems(now()),
                    evaluated=lambda since: evaluated(now()), situation=lambda: situation)


def _drill(obs, hold: float = 3.0, timeout: float = 10.0) -> Drill:
    d = Drill.__new__(Drill)
    d.ctx = stand_in(DrillContext, timeouts=Timeouts(steady=timeout), timings=stand_in(Timings, steady_hold_s=hold),
                     handlers=[], reporter=lambda line: None, progress_lines=False,
                     endpoints=Endpoints(ports={"PROMETHEUS_PORT": 9090}))
    d.expect = AlertExpectation("RedisDisconnected", "critical", frozenset({"pagerduty"}))
    d.timeline = Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30.0)
    d.obs = obs
    return d


def test_steady_state_ends_once_prometheus_has_evaluated_not_after_the_fixed_hold():
    obs = observed(evaluated=lambda t: t > 0.8)
    started = time.monotonic()
    _drill(obs, hold=5.0).steady_state()
    took = time.monotonic() - started
    assert 0.8 < took < 5.0, f"steady state took {took:.1f}s: it should end at the first look after the evaluation"


def test_without_an_evaluation_the_fixed_hold_decides():
    for answer in (False, None):
        obs = observed(evaluated=lambda t, a=answer: a)
        started = time.monotonic()
        _drill(obs, hold=1.5).steady_state()
        assert time.monotonic() - started >= 1.5


def test_a_problem_starts_the_hold_again():
    # Evaluated from the first look on, but the stack is unsteady at the second look (0.5 s): steady only
    # at the look after the next clean one (1.5 s), not at that clean look itself (1.0 s).
    obs = observed(problems=lambda t: ["backend /ready -> 503"] if 0.3 < t < 0.8 else [], evaluated=lambda t: True)
    d = _drill(obs, hold=5.0)
    started = time.monotonic()
    d.steady_state()
    assert time.monotonic() - started > 1.25


def test_never_steady_fails_with_what_stood_in_the_way():
    obs = observed(problems=lambda t: ["alerts active in Prometheus: RedisDisconnected (firing)"],
                   evaluated=lambda t: True)
    d = _drill(obs, hold=0.5, timeout=1.0)
    with pytest.raises(SteadyStateError, match="did not reach steady state") as caught:
        d.steady_state()
    assert "RedisDisconnected (firing)" in str(caught.value)


# -- before the run label changes: the previous drill's alerts are over ------------------------------------
def _labelling(active, timeout: float = 10.0) -> Drill:
    """A drill on a stack that runs the drill copy of the rules; `active(t)`: the alerts pending or
    firing t seconds after the first look."""
    start = time.monotonic()
    obs = stand_in(Observer, active_alerts=lambda tolerate_pending=frozenset(): active(time.monotonic() - start),
                   situation=lambda: "situation")
    d = _drill(obs, timeout=timeout)
    d.ctx.stack = stand_in(Stack, overrides={"ALERTDRILL_RULES_DIR": "/tmp/rules"})
    d.report = lambda line: None
    return d


def test_the_run_label_waits_until_the_previous_drills_alerts_are_over():
    """An alert of the previous drill still firing (its errors inside the window) would fire again under
    this drill's label and open its Alertmanager group before the fault (ci13, stop 33)."""
    d = _labelling(lambda t: ["CriticalErrorRate (firing)"] if t < 0.8 else [])
    started = time.monotonic()
    steady.previous_alerts_over(d)
    assert time.monotonic() - started >= 0.8


def test_alerts_that_never_end_fail_before_the_label_with_their_names():
    d = _labelling(lambda t: ["CriticalErrorRate (pending)"], timeout=1.0)
    with pytest.raises(SteadyStateError, match="stayed active for 1s before the drill began") as caught:
        steady.previous_alerts_over(d)
    assert "CriticalErrorRate (pending)" in str(caught.value)


def test_production_rules_have_no_label_to_wait_for():
    d = _labelling(lambda t: pytest.fail("asked Prometheus although no run label changes"))
    d.ctx.stack = stand_in(Stack, overrides={})
    steady.previous_alerts_over(d)


def test_a_drill_waits_for_the_previous_alerts_before_it_labels_its_own(monkeypatch):
    calls = []
    monkeypatch.setattr(steady, "previous_alerts_over", lambda d: calls.append("previous alerts over"))
    monkeypatch.setattr(drill_module, "label_alerts", lambda ctx, run: calls.append("label"))
    d = _labelling(lambda t: [])
    d.started, d._handler_failures = T0, set()
    d.__enter__()
    assert calls == ["previous alerts over", "label"]
