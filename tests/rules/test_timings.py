"""The timing model: one source for every window, floor and deadline, read from the production files;
scenarios' watch queries written for production and scaled like the rules."""
from __future__ import annotations

import pytest

import rulekit
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.alerting.durations import format_ms, parse_ms, parse_s
from alertdrill.alerting.timescale import range_windows
from alertdrill.alerting.timings import Timings
from alertdrill.wait import WaitTimeout, until

SCENARIOS = rulekit.scenario_modules(AlertExpectation)  # the quiet drills: tests/rules/test_quiet.py


def test_durations_one_parser_two_units():
    assert parse_ms("1m30s") == 90_000 and parse_s("250ms") == 0.25 and format_ms(2500) == "2s500ms"


@pytest.mark.parametrize("factor,window", [(30, 10.0), (60, 5.0), (1, 300.0)])
def test_windows_and_floors_follow_the_factor(factor, window):
    t = Timings.from_files(factor)
    assert t.window_s("HighAPILatency") == window
    assert t.for_s("HighAPILatency") == 300 / factor
    assert t.fire_floor_s("RedisDisconnected") == t.scrape_s + t.evaluation_s + 60 / factor + 30 / factor
    assert t.resolve_floor_s == t.scrape_s + t.evaluation_s + 300 / factor
    # the fire floor counts the rule's window filling; the deadline counts it once, not three times
    assert t.fire_floor_s("HighAPILatency") == window + t.scrape_s + t.evaluation_s + 300 / factor + 30 / factor
    assert t.fire_deadline_s("HighAPILatency") == 3 * t.pipeline_floor_s("HighAPILatency") + window + 20
    # the cause must be gone (window drained, two scrapes and evaluations, a restart) before the notices are due
    assert t.mitigate_deadline_s("HighAPILatency") == window + 2 * (t.scrape_s + t.evaluation_s) + 30
    assert t.mitigate_deadline_s("HighAPILatency") < t.resolve_deadline_s("HighAPILatency")


def test_the_reports_floors_are_the_runbooks_and_an_edited_route_cannot_move_them(tmp_path):
    """The floors a drill is compared with come from the runbook's promise; a route whose group_interval
    was quadrupled in the production file moves the file's floor, never the one reported."""
    promises = rulekit.promises()
    t = Timings.from_files(30)
    assert t.floors("HighAPILatency", promises) == (t.fire_floor_s("HighAPILatency"), t.resolve_floor_s)
    edited = tmp_path / "alertmanager.yml"
    edited.write_text(rulekit.ALERTMANAGER.read_text().replace("group_interval: 5m", "group_interval: 20m"))
    assert edited.read_text() != rulekit.ALERTMANAGER.read_text()
    moved = Timings.from_files(30, rulekit.RULES, edited)
    assert moved.resolve_floor_s == t.resolve_floor_s + 900 / 30  # the file's floor moved ...
    assert moved.floors("HighAPILatency", promises) == t.floors("HighAPILatency", promises)  # ... the runbook's did not
    assert moved.floors("HighAPILatency") == (moved.fire_floor_s("HighAPILatency"), moved.resolve_floor_s)


def test_unknown_alert_is_named():
    with pytest.raises(KeyError, match="no alerting rule named Nope.*RedisDisconnected"):
        Timings.from_files(30).rule("Nope")


@pytest.mark.parametrize("module", SCENARIOS, ids=lambda m: m.EXPECTATION.alertname)
def test_watch_queries_are_written_for_production_and_scaled_like_the_rules(module):
    """Each scenario's watch uses the rule's own production windows; at x60 the drill shows 5 s ones."""
    expect = module.EXPECTATION
    t30, t60 = Timings.from_files(30), Timings.from_files(60)
    rule_windows = set(t30.rule(expect.alertname).windows_ms)
    assert set(range_windows(expect.watch)) <= rule_windows, (
        f"{expect.alertname}: watch {expect.watch!r} uses windows {range_windows(expect.watch)} that its rule "
        f"does not ({sorted(rule_windows)}): write it as in production")
    scaled = range_windows(t60.scale_expr(expect.watch))
    assert scaled == [t60.drill_ms(w) for w in range_windows(expect.watch)]
    assert all(w == 5000 for w in scaled)


def test_until_returns_the_value_and_reports_progress():
    calls, progress = [], []
    assert until(lambda: calls.append(1) or len(calls) >= 3 and "done", 5, poll=0.01, every=0,
                 progress=progress.append) == "done"
    assert len(calls) == 3 and len(progress) == 2


def test_until_times_out_with_the_callers_error_or_the_last_retried_one():
    with pytest.raises(WaitTimeout):
        until(lambda: False, 0.05, poll=0.01)
    with pytest.raises(LookupError, match="boom"):
        until(lambda: False, 0.05, poll=0.01, on_timeout=lambda: (_ for _ in ()).throw(LookupError("boom")))

    def not_yet():
        raise ValueError("still not")

    with pytest.raises(ValueError, match="still not"):
        until(not_yet, 0.05, poll=0.01, retry_on=(ValueError,))
    assert until(lambda: False, 0.02, poll=0.01, on_timeout=lambda: "gave up") == "gave up"


def test_notice_problems_name_what_people_would_miss():
    from alertdrill.engine.observe import notice_problems
    from alertdrill.runbook.parse import parse_runbook
    from alertdrill.target.clients.sink import Notification

    rb = parse_runbook()
    url = "https://github.com/alertdrill/alertdrill/blob/main/docs/runbook.md#"

    def note(**ann):
        return Notification("pagerduty", "firing", "RedisDisconnected", {}, 0.0, ann)

    good = note(summary="s", description="d", runbook_url=url + "redisdisconnected")
    assert notice_problems([good], "RedisDisconnected", rb) == []
    assert "no description" in notice_problems([note(summary="s", runbook_url=url + "redisdisconnected")],
                                               "RedisDisconnected", rb)[0]
    assert "no heading" in notice_problems([note(summary="s", description="d", runbook_url=url + "nope")],
                                           "RedisDisconnected", rb)[0]
    assert "not at RedisDisconnected's section" in notice_problems(
        [note(summary="s", description="d", runbook_url=url + "highapilatency")], "RedisDisconnected", rb)[0]
    # the right anchor of the wrong document: the path must lead to this runbook too
    elsewhere = "https://github.com/alertdrill/alertdrill/blob/main/docs/old-runbook.md#redisdisconnected"
    [wrong] = notice_problems([note(summary="s", description="d", runbook_url=elsewhere)], "RedisDisconnected", rb)
    assert wrong == ("pagerduty: runbook_url " + elsewhere + " leads to /alertdrill/alertdrill/blob/main/docs/"
                     "old-runbook.md, not to the runbook docs/runbook.md")
    assert notice_problems([note(summary="s", description="d", runbook_url="docs/runbook.md#redisdisconnected")],
                           "RedisDisconnected", rb) == []


def test_inhibition_window_is_the_sources_first_notice_to_its_own_endsAt():
    """The twin may notify before the critical alert first notified (nothing held it back yet) and once
    it ended in Alertmanager (its endsAt), even before the drill next looks; in between, or with no end
    at all, its notice is a broken inhibition."""
    from alertdrill.engine.context import DrillContext
    from alertdrill.engine.invariants import inhibited_never_notified
    from alertdrill.errors import InvariantViolated
    from alertdrill.runbook.parse import parse_runbook
    from alertdrill.runbook.promises import parse_promises
    from alertdrill.target.clients.sink import Notification, SinkClient
    from tests.doubles import stand_in

    route = {"route": "/market/{instrument}"}

    def sink(*notes):
        def notifications(*, receiver=None, alertname=None, status=None, since=None):
            return [n for n in notes if n.alertname == alertname and n.status == status and n.received_at >= since]

        return stand_in(SinkClient, notifications=notifications)

    def check(*notes):
        ctx = stand_in(DrillContext, sink=sink(*notes), promises=parse_promises(parse_runbook()))
        return inhibited_never_notified(ctx, "CriticalAPILatency", route, since=100.0)

    fired = Notification("pagerduty", "firing", "CriticalAPILatency", route, 110.0)
    ended = Notification("pagerduty", "resolved", "CriticalAPILatency", route, 140.0, ends_at=130.0)
    twin_first = Notification("slack-oncall-alerts", "firing", "HighAPILatency", route, 109.0)
    twin_after = Notification("slack-oncall-alerts", "firing", "HighAPILatency", route, 131.0)
    twin_before = Notification("slack-oncall-alerts", "firing", "HighAPILatency", route, 129.0)
    other_route = Notification("slack-oncall-alerts", "firing", "HighAPILatency", {"route": "/signals"}, 120.0)
    assert "until its endsAt 130.0" in check(fired, ended, twin_after, other_route)
    # the twin fired on its own before the critical alert reached Alertmanager: nothing could inhibit it
    assert "fired on its own before" in check(fired, ended, twin_first)
    with pytest.raises(InvariantViolated, match="HighAPILatency reached a receiver"):
        check(fired, ended, twin_before)
    with pytest.raises(InvariantViolated, match="HighAPILatency reached a receiver"):
        check(fired, twin_after)  # the critical alert never ended: every later notice of the twin counts
    with pytest.raises(InvariantViolated, match="HighAPILatency reached a receiver"):
        check(ended, twin_first)  # nor ever notified: every notice since the fault counts


def test_every_deadline_carries_the_sentence_that_explains_it_and_a_hand_set_one_wins():
    """One home for each figure and its sentence (alertdrill.alerting.timings): the plan, the failure
    messages and the report read both from there."""
    t = Timings.from_files(30)
    window = t.window_s("HighAPILatency")
    fire, cause, resolve = (t.fire_deadline("HighAPILatency"), t.mitigate_deadline("HighAPILatency"),
                            t.resolve_deadline("HighAPILatency"))
    assert (fire.seconds, cause.seconds, resolve.seconds) == (
        t.fire_deadline_s("HighAPILatency"), t.mitigate_deadline_s("HighAPILatency"),
        t.resolve_deadline_s("HighAPILatency"))
    assert f"the {window:g}s window filling" in fire.why and f"the {window:g}s window draining" in cause.why
    assert "30 s for a restart" in resolve.why
    by_hand = t.mitigate_deadline("HighAPILatency", 99.0)
    assert by_hand.seconds == 99.0 and "--resolve-timeout" in by_hand.why and cause.why in by_hand.why
    notify = t.notify_deadline(120_000, 30_000)
    assert notify.seconds == t.notify_deadline_s(120_000, 30_000)
    assert notify.why.endswith(f"= {notify.seconds:g}s (x30 of the runbook's promise)"), notify.why
