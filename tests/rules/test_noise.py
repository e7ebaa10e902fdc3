"""A drill's noise (alertdrill.engine.noise): the notices it delivered counted as pages, messages,
duplicates and flaps, only its own (by the run label); the paging receivers read from the runbook; the
figure recorded on every outcome and never failing a drill for an unreachable sink; and the
--max-notifications gate. Against stand-ins tied to the real classes (tests/doubles.py), no containers."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import rulekit
from alertdrill.alerting.drillconfig import RUN_LABEL
from alertdrill.engine import firing, noise
from alertdrill.engine.context import DrillContext, Gameday, Timeouts
from alertdrill.engine.drill import Drill
from alertdrill.engine.noise import Noise
from alertdrill.engine.timeline import Timeline
from alertdrill.engine.undo import UndoStack
from alertdrill.errors import DrillAborted, DrillError, TooNoisy
from alertdrill.fixtures import settings as drills
from alertdrill.runbook.parse import parse_runbook_text
from alertdrill.runbook.promises import parse_promises
from alertdrill.target.clients.sink import Notification, SinkClient
from alertdrill.target.stack import Stack
from tests.doubles import stand_in

REPO = Path(__file__).resolve().parents[2]
PROMISES = rulekit.promises()
PAGING = frozenset({"pager"})
T0 = 1_800_000_000.0


def notice(receiver: str, status: str = "firing", at: float = 0.0, alert: str = "RedisDisconnected",
           **labels: str) -> Notification:
    return Notification(receiver=receiver, status=status, alertname=alert, received_at=T0 + at,
                        labels={"alertname": alert, "severity": "critical", **labels})


# -- counting -----------------------------------------------------------------------------------------------
def test_firing_notices_to_a_paging_receiver_are_pages_and_every_other_notice_a_message():
    got = noise.count([notice("pager"), notice("chat"), notice("pager", "resolved", 5), notice("chat", "resolved", 5)],
                      PAGING)
    assert got == Noise(pages=1, messages=3, duplicates=0, flaps=0) and got.delivered == 4


def test_a_firing_notice_again_with_nothing_resolved_between_is_a_duplicate():
    got = noise.count([notice("pager"), notice("chat"), notice("pager", at=60), notice("chat", at=60)], PAGING)
    assert got == Noise(pages=2, messages=2, duplicates=2, flaps=0)


def test_firing_again_after_its_resolved_notice_is_a_flap():
    got = noise.count([notice("pager", at=0), notice("pager", "resolved", 10), notice("pager", at=20),
                       notice("pager", "resolved", 30)], PAGING)
    assert got == Noise(pages=2, messages=2, duplicates=0, flaps=1)


def test_instances_and_receivers_are_told_apart_and_the_notices_taken_in_the_order_received():
    # two routes of one alert are two instances; the same instance to another receiver is no duplicate;
    # the resolved notice listed first but received between the two firing ones makes a flap
    got = noise.count([notice("chat", "resolved", 10, route="/a"), notice("chat", at=0, route="/a"),
                       notice("chat", at=1, route="/b"), notice("pager", at=2, route="/a"),
                       notice("chat", at=20, route="/a")], PAGING)
    assert got == Noise(pages=1, messages=4, duplicates=0, flaps=1)


def test_only_this_drills_notices_count_when_its_alerts_carry_the_run_label():
    mine, earlier = notice("pager", **{RUN_LABEL: "test_X-1"}), notice("pager", **{RUN_LABEL: "test_X-0"})
    assert noise.of_run([mine, earlier], "test_X-1") == [mine]
    assert noise.of_run([mine, earlier], None) == [mine, earlier]  # production rules: no run label to go by


@pytest.mark.parametrize("figures,shown", [
    ({"pages": 2, "messages": 1, "duplicates": 0, "flaps": 0}, "2 pages, 1 msg"),
    ({"pages": 1, "messages": 3, "duplicates": 1, "flaps": 2}, "1 page, 3 msgs, 1 dup, 2 flaps"),
    ({"pages": 0, "messages": 0, "duplicates": 0, "flaps": 0}, "none"),
    ({}, "-"), (None, "-")])
def test_how_the_summaries_show_it(figures, shown):
    assert noise.describe(figures) == shown


# -- who pages ---------------------------------------------------------------------------------------------
def test_the_paging_receivers_are_those_only_paged_severities_reach():
    assert PROMISES.paged == {"critical"}
    assert PROMISES.paging_receivers() == {"pagerduty", "engineering-manager"}  # the channel gets warnings too


def runbook_whose_severity_table(rewrite) -> str:
    text = (REPO / "docs/runbook.md").read_text()
    table = re.search(r"## Severity levels\n\n((?:\|.*\n)+)", text).group(1)
    return text.replace(table, "".join(rewrite(line) + "\n" for line in table.splitlines()))


def test_without_a_paged_column_critical_pages():
    text = runbook_whose_severity_table(lambda line: line.rsplit("|", 2)[0] + "|")  # the last column dropped
    promises = parse_promises(parse_runbook_text(text))
    assert "paged" not in text.split("## Severity levels")[1].split("##")[0]
    assert promises.paged == {"critical"} and promises.paging_receivers() == {"pagerduty", "engineering-manager"}


def test_a_paged_warning_makes_the_channel_that_gets_it_a_pager():
    text = runbook_whose_severity_table(lambda line: line.replace("| no |", "| yes |", 1) if "warning" in line
                                        else line)
    promises = parse_promises(parse_runbook_text(text))
    assert promises.paged == {"critical", "warning"}
    assert "slack-oncall-alerts" in promises.paging_receivers()


# -- recorded on the timeline -----------------------------------------------------------------------------
def drill_reading(tmp_path: Path, notifications, *, drill_copy: bool = True, limit: int | None = None,
                  lines: list | None = None) -> Drill:
    sink = stand_in(SinkClient, notifications=notifications)
    overrides = {"ALERTDRILL_RULES_DIR": str(tmp_path / "rules")} if drill_copy else {}
    d = Drill.__new__(Drill)
    d.ctx = stand_in(DrillContext, sink=sink, stack=stand_in(Stack, overrides=overrides), promises=PROMISES,
                     artifacts=tmp_path, timelines=[], handlers=[], reporter=(lines if lines is not None else []).append,
                     gameday=Gameday(max_notifications=limit), timeouts=Timeouts())
    d.timeline = Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30.0)
    d.started, d._undo, d._handler_failures = T0, UndoStack(), set()
    return d


def test_the_drill_counts_its_own_notices_since_it_began(tmp_path):
    asked = []

    def notifications(*, receiver=None, alertname=None, status=None, since=None):
        asked.append(since)
        run = f"test_RedisDisconnected-{T0:.0f}"
        return [notice("pagerduty", **{RUN_LABEL: run}), notice("slack-oncall-alerts", **{RUN_LABEL: run}),
                notice("pagerduty", at=9, **{RUN_LABEL: "test_CriticalErrorRate-1"})]

    lines: list[str] = []
    d = drill_reading(tmp_path, notifications, lines=lines)
    assert noise.record(d) == Noise(pages=1, messages=1)
    assert asked == [T0] and d.timeline.noise == {"pages": 1, "messages": 1, "duplicates": 0, "flaps": 0}
    assert lines == ["  notices delivered: 1 page, 1 msg"]
    d = drill_reading(tmp_path, notifications, drill_copy=False)  # no run label: every notice since it began
    assert noise.record(d) == Noise(pages=2, messages=1)


def test_an_unreachable_sink_records_nothing_and_fails_nothing(tmp_path):
    def refused(**_):
        raise httpx.ConnectError("connection refused")

    lines: list[str] = []
    d = drill_reading(tmp_path, refused, lines=lines)
    assert noise.record(d) is None and d.timeline.noise == {}
    assert lines == ["  ! notices not counted: the alert sink did not answer (connection refused)"]


def test_a_failed_drill_records_its_noise_and_keeps_its_own_error(tmp_path):
    d = drill_reading(tmp_path, lambda **_: [notice("pagerduty"), notice("pagerduty", at=60)], limit=0,
                      drill_copy=False)
    aborted = DrillAborted("the drill reached its maximum duration of 100s")
    d.__exit__(DrillAborted, aborted, None)  # no raise: the with statement re-raises the drill's own error
    written = json.loads((tmp_path / "test_RedisDisconnected.json").read_text())
    assert written["noise"] == {"pages": 2, "messages": 0, "duplicates": 1, "flaps": 0}
    assert written["outcome"] == "aborted" and "maximum duration" in written["error"]  # the gate judged nothing


def test_a_passing_drill_over_the_gate_fails_and_its_timeline_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(firing, "no_unexpected_alert_since_the_fault", lambda d: None)
    monkeypatch.setattr(Drill, "steady_state", lambda self, timeout=None, *, ending=False: None)
    d = drill_reading(tmp_path, lambda **_: [notice("pagerduty"), notice("slack-oncall-alerts")], limit=1,
                      drill_copy=False)
    with pytest.raises(TooNoisy, match=r"delivered 2 notifications \(1 page, 1 msg\), over the gate of 1"):
        d.__exit__(None, None, None)
    written = json.loads((tmp_path / "test_RedisDisconnected.json").read_text())
    assert written["outcome"] == "failed" and "over the gate of 1" in written["error"]


# -- the gate --------------------------------------------------------------------------------------------------
def timeline_with(**figures: int) -> Timeline:
    t = Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30.0)
    t.noise = Noise(**figures).as_dict()
    return t


def test_the_gate_passes_at_the_limit_and_fails_above_it_naming_count_breakdown_and_limit():
    t = timeline_with(pages=2, messages=3, duplicates=1, flaps=1)
    noise.check(t, 5)
    noise.check(t, None)
    noise.check(Timeline(scenario="test_old", alert="A", factor=1.0), 0)  # nothing counted: nothing to judge
    with pytest.raises(TooNoisy) as caught:
        noise.check(t, 4)
    assert isinstance(caught.value, DrillError)
    text = str(caught.value)
    assert text.splitlines()[0] == ("test_RedisDisconnected delivered 5 notifications (2 pages, 3 msgs, 1 dup, "
                                    "1 flap), over the gate of 4")
    assert "expected: at most 4 notifications a drill (--max-notifications 4)" in text
    assert "2 pages, 3 messages; among them 1 duplicates and 1 flaps" in text and "Hint:" in text


def config_with(raw: str):
    return stand_in(pytest.Config, getoption=lambda name: raw, getini=lambda name: "none")


@pytest.mark.parametrize("raw,limit", [("none", None), ("None", None), ("0", 0), ("4", 4), (" 12 ", 12)])
def test_the_limit_is_a_whole_number_or_none(raw, limit):
    assert drills._count(config_with(raw), "max_notifications", off="none") == limit


@pytest.mark.parametrize("raw", ["-1", "2.5", "many", "", "²"])
def test_any_other_limit_is_a_usage_error_saying_what_is_valid(raw):
    with pytest.raises(pytest.UsageError, match=rf"--max-notifications={re.escape(repr(raw.strip()))} is invalid: "
                                                r"expected a whole number >= 0 or 'none'"):
        drills._count(config_with(raw), "max_notifications", off="none")


def test_pytest_refuses_a_bad_limit_before_anything_runs():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--max-notifications", "-3", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "tests/rules/test_noise.py"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--max-notifications='-3' is invalid: expected a whole number >= 0 or 'none'" in proc.stderr


def test_the_header_shows_the_gate(tmp_path):
    settings = drills.DrillSettings(factor=30, reuse=True, keep=False, timeouts=Timeouts(), artifacts=tmp_path,
                                    runbook=parse_runbook_text("", REPO / "docs/runbook.md"),
                                    gameday=Gameday(max_notifications=0))
    assert "; gate: at most 0 notifications a drill" in settings.header()
    settings.gameday = Gameday()
    assert "notifications" not in settings.header()
