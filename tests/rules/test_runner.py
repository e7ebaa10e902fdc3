"""The drill runner without a stack: it offers its helpers everything of the narrow interface they are
written against (alertdrill.engine.runner.DrillRun); its one undo stack undoes everything in reverse and
keeps going past a failure; a failing event handler neither fails nor hides a drill; the verdicts over a
recorded timeline find every broken promise, and a failure names the others."""
from __future__ import annotations

import inspect

import pytest

from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.runner import DrillRun
from alertdrill.engine.timeline import Event, Timeline
from alertdrill.engine.undo import UndoStack
from alertdrill.engine.verdicts import judge
from alertdrill.errors import AlertNotResolved, NotificationMissing
from tests.doubles import interface

EXPECT = AlertExpectation("RedisDisconnected", "critical", frozenset({"pagerduty", "slack-oncall-alerts"}),
                          threshold="== 0")


def test_the_runner_offers_its_helpers_the_whole_narrow_interface():
    members = set(DrillRun.__annotations__) | {n for n, v in vars(DrillRun).items()
                                               if inspect.isfunction(v) and not n.startswith("_")}
    missing = sorted(members - interface(Drill))
    assert not missing, f"Drill lacks {missing} of DrillRun: the helpers call them"
    for name in members - set(DrillRun.__annotations__):
        want = list(inspect.signature(getattr(DrillRun, name)).parameters)
        have = list(inspect.signature(getattr(Drill, name)).parameters)
        assert have == want, f"Drill.{name}{have} is not DrillRun.{name}{want}"


def test_the_undo_stack_runs_in_reverse_keeps_going_and_reports_every_failure():
    done, lines = [], []
    stack = UndoStack()
    stack.push("guard", "guard", "backend/.env", lambda: done.append("guard") or "restored backend/.env")
    stack.push("load", "load", "dashboard", lambda: done.append("load"))
    stack.push("broken", "fault", "toxic", lambda: 1 / 0)
    stack.push("fault", "fault", "kill redis", lambda: done.append("fault") or "started redis")
    errors = stack.unwind(lines.append)
    assert done == ["fault", "load", "guard"]
    assert errors == ["fault toxic: division by zero"]
    assert lines == ["  healed: started redis", "  healed: restored backend/.env"]


def test_an_item_ended_early_is_off_the_stack():
    stack, stopped = UndoStack(), []
    traffic = object()
    stack.push(traffic, "traffic", "CustomerTraffic", lambda: stopped.append(1) or "stopped")
    assert stack.end(traffic) == "stopped" and stack.unwind(print) == [] and stopped == [1]
    with pytest.raises(KeyError, match="not on the drill's undo stack"):
        stack.end(traffic)


class FailingView:
    def marked(self, drill, event):
        raise RuntimeError("the terminal went away")


def test_a_failing_event_handler_is_reported_once_and_the_drill_goes_on():
    d = Drill.__new__(Drill)
    lines: list[str] = []
    d.timeline = Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30.0)
    d.ctx = type("Ctx", (), {"handlers": [FailingView()], "reporter": staticmethod(lines.append)})()
    d._handler_failures = set()
    d.mark("injected")
    d.mark("firing")
    assert [e.name for e in d.timeline.events] == ["injected", "firing"]
    assert lines == ["  ! event handler FailingView.marked failed (RuntimeError('the terminal went away')); "
                     "the drill goes on"]


def timeline_with(*notices: tuple[str, str]) -> Timeline:
    t = Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30.0)
    t.notifications = [{"receiver": r, "status": s, "at": 1.0} for r, s in notices]
    t.events = [Event(f"notified:{r}", 1.0) for r, s in notices if s == "firing"]
    return t


def test_the_verdicts_find_a_receiver_paged_who_should_not_be():
    assert judge(timeline_with(("pagerduty", "firing"), ("slack-oncall-alerts", "firing")), EXPECT) == []
    found = judge(timeline_with(("pagerduty", "firing"), ("engineering-manager", "resolved")), EXPECT)
    assert [(b.error, b.what) for b in found] == [
        (NotificationMissing, "RedisDisconnected also reached ['engineering-manager']")]


def test_a_failure_names_the_other_broken_promises_after_its_own():
    error = AlertNotResolved("RedisDisconnected kept firing 34s after the remediation", expected="the cause gone")
    error.also(["RedisDisconnected also reached ['engineering-manager']", "RedisDisconnected kept firing 34s "
                "after the remediation"])
    text = str(error)
    assert text.splitlines()[:2] == ["RedisDisconnected kept firing 34s after the remediation",
                                     "  also broken: RedisDisconnected also reached ['engineering-manager']"]
    assert text.count("kept firing") == 1
