"""Quiet drills (alertdrill.engine.quiet), without containers: the verdicts are pure functions of a recorded
timeline, and each goes red on its own breach; the hold outlasts every alert the noise could touch; each
quiet scenario names real alerts and a counter a paging rule reads; the plan shows a quiet drill; Paced
counts what it did. The drills themselves run in `make drill`, and tests/drill breaks alerting under them."""
from __future__ import annotations

import re

import pytest

import rulekit
from alertdrill.alerting.timings import Timings
from alertdrill.engine.context import Timeouts
from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.plan import plan_scenario
from alertdrill.engine.quiet import QUIET, QuietDrill, QuietExpectation, judge, runner_for
from alertdrill.engine.timeline import Timeline
from alertdrill.engine.verdicts import reached_only_its_receivers
from alertdrill.errors import DrillError, FalseAlarm
from alertdrill.load.paced import Paced
from alertdrill.runbook.parse import parse_runbook
from alertdrill.runbook.promises import PromiseError

PROMISES = rulekit.promises()
PAGED = PROMISES.paged
QUIET_SCENARIOS = rulekit.scenario_modules(QuietExpectation)
NOISE = QuietExpectation("a crawler", touches=("HighErrorRate",), unmoved={"errors_total": "sum(errors_total)"})


def recorded(*events: tuple[str, str], notices: list[dict] | None = None) -> Timeline:
    t = Timeline(scenario="test_quiet_x", alert=QUIET, factor=30, kind="quiet")
    for at, (name, detail) in enumerate(events):
        t.mark(name, detail, at=1000.0 + at)
    t.notifications = list(notices or [])
    return t


def test_a_quiet_window_breaks_nothing():
    assert judge(recorded(("noise", "a crawler"), ("pending:HighErrorRate", "warning")), NOISE, PAGED) == []


@pytest.mark.parametrize("events,notices,found", [
    ([("firing:HighErrorRate", "warning")], [], r"HighErrorRate \(warning\) fired during the noise \(a crawler\)"),
    ([("pending:CriticalErrorRate", "critical")], [], r"paging alert CriticalErrorRate \(critical\) went pending"),
    ([("moved:errors_total", "3 -> 7")], [], r"errors_total rose during the noise \(a crawler\) \(3 -> 7\)"),
    ([], [{"receiver": "slack-oncall-alerts", "status": "firing", "at": 1.0, "alert": "HighErrorRate"}],
     r"people were notified .*slack-oncall-alerts \(HighErrorRate firing\)"),
], ids=["fired", "paging-pending", "counter-rose", "notified"])
def test_each_breach_alone_is_named(events, notices, found):
    broken = judge(recorded(*events, notices=notices), NOISE, PAGED)
    assert len(broken) == 1 and broken[0].error is FalseAlarm
    assert re.search(found, broken[0].what), broken[0].what


def test_a_warning_may_go_pending_and_a_fired_alert_is_named_once():
    t = recorded(("pending:HighErrorRate", "warning"), ("pending:CriticalErrorRate", "critical"),
                 ("firing:CriticalErrorRate", "critical"))
    [fired] = judge(t, NOISE, PAGED)
    assert fired.what.startswith("CriticalErrorRate (critical) fired")


def test_every_breach_is_reported_loudest_first():
    t = recorded(("pending:RedisDisconnected", "critical (in Prometheus' ALERTS history)"),
                 ("firing:HighErrorRate", "warning"), ("moved:errors_total", "0 -> 2"),
                 notices=[{"receiver": "pagerduty", "status": "firing", "at": 2.0, "alert": "HighErrorRate"}])
    broken = judge(t, NOISE, PAGED)
    assert [b.what.split()[0] for b in broken] == ["people", "HighErrorRate", "paging", "errors_total"]
    with pytest.raises(FalseAlarm) as caught:
        broken[0].raise_with("seen", broken[1:])
    assert str(caught.value).count("also broken:") == 3


def test_what_pages_is_the_runbooks_severity_table():
    assert PAGED == frozenset({"critical"})
    t = recorded(("pending:HighErrorRate", "warning"))
    assert judge(t, NOISE, frozenset({"warning"}))  # a runbook that paged for warnings would hear it


def test_the_alert_verdict_judges_only_its_own_alerts_notices():
    """A quiet drill's notices carry their alert: the 'reached only its receivers' verdict of an alert drill
    reads its own alert's, and a quiet drill is judged by its own verdicts."""
    t = recorded(notices=[{"receiver": "pagerduty", "status": "firing", "at": 1.0, "alert": "HighErrorRate"}])
    assert reached_only_its_receivers(t, QuietExpectation("x").as_expectation()) == []
    t.notifications.append({"receiver": "pagerduty", "status": "firing", "at": 1.0})
    assert reached_only_its_receivers(t, QuietExpectation("x").as_expectation())


def test_the_hold_outlasts_every_alert_the_noise_could_touch():
    t = Timings.from_files(30)
    for module in QUIET_SCENARIOS:
        q = module.EXPECTATION
        hold = q.hold_s(t, PROMISES)
        for alert in q.alerts(t, PROMISES):
            assert hold >= t.window_s(alert) + t.for_s(alert) + t.group_wait_s + t.scrape_s + t.evaluation_s, alert
    assert NOISE.hold_s(t, PROMISES) == pytest.approx(t.window_s("HighErrorRate") + t.for_s("HighErrorRate")
                                                     + t.scrape_s + t.evaluation_s + t.group_wait_s
                                                     + t.deadline_margin_s)
    assert QuietExpectation("a deploy").hold_s(t, PROMISES) == max(
        QuietExpectation("x", touches=(a,)).hold_s(t, PROMISES) for a in t.rules)


def test_a_quiet_drill_names_only_alerts_that_exist():
    t = Timings.from_files(30)
    with pytest.raises(KeyError, match="no alerting rule named HighErrorRates"):
        QuietExpectation("x", touches=("HighErrorRates",)).alerts(t, PROMISES)
    from dataclasses import replace

    without = replace(PROMISES, alerts={k: v for k, v in PROMISES.alerts.items() if k != "HighErrorRate"})
    with pytest.raises(PromiseError, match="no row for HighErrorRate"):
        QuietExpectation("x", touches=("HighErrorRate",)).alerts(t, without)


@pytest.mark.parametrize("module", QUIET_SCENARIOS, ids=lambda m: m.__name__.split(".")[-1])
def test_quiet_scenarios_watch_a_counter_a_paging_rule_reads(module, rules):
    """The counters a quiet drill holds still are the ones pages are made of: a noise that moved them would
    page someone, however the rules are written today."""
    q = module.EXPECTATION
    assert q.unmoved, f"{module.__name__}: a quiet drill holds at least the server-fault counter still"
    paging_exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]
                    if r.get("alert") and PROMISES.alerts[r["alert"]].severity in PAGED]
    for name, expr in q.unmoved.items():
        assert name in expr and any(re.search(rf"\b{name}\b", e) for e in paging_exprs), (module.__name__, name)
    assert runner_for(q) is QuietDrill and runner_for(AlertExpectation("RedisDisconnected")) is Drill


@pytest.mark.parametrize("module", QUIET_SCENARIOS, ids=lambda m: m.__name__.split(".")[-1])
def test_a_quiet_drill_has_a_plan(module):
    runbook = parse_runbook(rulekit.REPO / "docs" / "runbook.md")
    plan = plan_scenario(module.__name__, module.run, module.EXPECTATION, Timings.from_files(30), runbook,
                         Timeouts())
    plan.check()
    assert plan.header[0].startswith(f"quiet: {module.EXPECTATION.noise}; for ")
    assert "quiet window" in [s.kind for s in plan.steps] and "steady state" in [s.kind for s in plan.steps]


def test_paced_counts_each_outcome_and_each_failure_and_stops():
    stopped = []

    def act(i: int) -> str:
        if i == 3:
            raise OSError("refused")
        return "404" if i % 2 else "401"

    p = Paced("crawler", act, per_second=1000, max_count=6, on_stop=lambda: stopped.append(1)).start()
    p._thread.join(5)
    assert not p.running and dict(p.outcomes) == {"401": 3, "404": 2, "OSError": 1} and p.count == 6
    assert p.errors == ["OSError: refused"] and "6 in" in p.describe()
    p.stop()
    assert stopped == [1]
    with pytest.raises(ValueError, match="per_second=0 is invalid: expected a positive rate"):
        Paced("x", act, per_second=0)


def test_a_quiet_drill_fails_as_a_drill_error():
    assert issubclass(FalseAlarm, DrillError)


# -- recording, against stand-ins tied to the real classes (tests/doubles.py) -------------------------------
def quiet_drill_reading(values: list[float | None], history: list, alerts: list | None = None) -> QuietDrill:
    """A QuietDrill whose Prometheus answers `values` for the unmoved counter, one per look (the last one
    from then on), `history` for the ALERTS query, and `alerts` at every look."""
    import time

    from alertdrill.engine.abort import AbortConditions
    from alertdrill.engine.context import DrillContext, Gameday
    from alertdrill.engine.observe import Observer
    from alertdrill.engine.undo import UndoStack
    from alertdrill.target.clients.prometheus import PrometheusClient
    from alertdrill.target.clients.sink import SinkClient
    from alertdrill.target.stack import Stack
    from tests.doubles import stand_in

    answers = list(values)
    prometheus = stand_in(PrometheusClient, value=lambda expr: answers.pop(0) if len(answers) > 1 else answers[0],
                          alerts=lambda: list(alerts or []), query=lambda expr: history)
    d = QuietDrill.__new__(QuietDrill)
    d.ctx = stand_in(DrillContext, prometheus=prometheus, sink=stand_in(SinkClient, notifications=lambda **kw: []),
                     stack=stand_in(Stack, overrides={}), timings=Timings.from_files(30), promises=PROMISES,
                     handlers=[], reporter=lambda line: None, progress_lines=False, gameday=Gameday())
    d.quiet_expect, d.hold_s, d.started = NOISE, 0.0, time.time()
    d.obs = stand_in(Observer, watch="")
    d.timeline = Timeline(scenario="test_quiet_x", alert=QUIET, factor=30, kind="quiet")
    d._undo, d._aborts, d._handler_failures, d.POLL = UndoStack(), AbortConditions(Gameday()), set(), 0.05
    return d


def test_a_counter_that_rises_is_recorded_and_a_restarts_reset_is_not():
    import time

    from alertdrill.engine.quiet import record

    d = quiet_drill_reading([5.0, 5.0, 0.0, None, 2.0, 2.0], history=[])
    record(d, time.time())
    assert [(e.name, e.detail) for e in d.timeline.events] == [("moved:errors_total", "0 -> 2")]
    assert re.search(r"errors_total rose .*\(0 -> 2\)", judge(d.timeline, NOISE, PAGED)[0].what)


def test_what_prometheus_remembers_between_two_looks_is_recorded():
    import time

    from alertdrill.engine.quiet import record
    from alertdrill.target.clients.prometheus import AlertState, Sample

    history = [Sample({"alertname": "CriticalErrorRate", "alertstate": "pending", "severity": "critical"}, 1.0)]
    seen = [AlertState("HighErrorRate", "firing", {"severity": "warning"}, {}, 0.2, "")]
    d = quiet_drill_reading([1.0], history=history, alerts=seen)
    record(d, time.time())
    events = {e.name: e.detail for e in d.timeline.events}
    assert events == {"firing:HighErrorRate": "warning",
                      "pending:CriticalErrorRate": "critical (in Prometheus' ALERTS history)"}
    assert [b.what.split(" (")[0] for b in judge(d.timeline, NOISE, PAGED)] == [
        "HighErrorRate", "paging alert CriticalErrorRate"]
