"""The report of a run: HTML with one chart per drill and nothing fetched, the Markdown summary, the
`alertdrill report` command, the timeline's documented schema, history and the fire-ratio gate."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from alertdrill.cli import main as cli
from alertdrill.runbook.promises import Threshold
from alertdrill.engine.timeline import Phase, Timeline, summary_table
from alertdrill.errors import DrillError
from alertdrill.report import history, load_timeline, render_html, summary_markdown
from alertdrill.report.run import as_report_dict, junit_properties

TIMELINES = Path(__file__).parent / "timelines"

SCHEMA = json.loads((Path(__file__).parents[2] / "alertdrill/report/timeline.schema.json").read_text())


def a_timeline(**over) -> Timeline:
    t = Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30.0, fire_floor=5.0,
                 resolve_floor=12.0, watch="min(redis_connected)", threshold="== 0", severity="critical",
                 receivers=["pagerduty"], **over)
    t.phases.append(Phase("fault: kill redis", 100.0, 100.1, "ok"))
    t.mark("injected", "docker kill redis", at=100.0)
    t.samples += [[100.0, 1.0], [101.0, None], [102.0, 0.0], [110.0, 1.0]]
    t.mark("notified:pagerduty", at=106.0)
    t.notifications.append({"receiver": "pagerduty", "status": "firing", "at": 106.0})
    t.mark("remediated", "docker compose restart redis", at=107.0)
    t.actions.append({"name": "restart redis", "script": "docker compose restart redis", "output": "", "started": 107.0,
                      "ended": 108.0})
    t.mark("mitigated", at=109.0)
    t.mark("resolved-notified:pagerduty", at=120.0)
    t.outcome = "passed"
    return t


def test_a_written_timeline_validates_against_the_documented_schema(tmp_path):
    path = a_timeline().write(tmp_path)
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)


NOISY = {"pages": 2, "messages": 3, "duplicates": 1, "flaps": 1}


def a_quiet_timeline(**over) -> Timeline:
    """A drill that expects no alert (kind quiet), with what it delivered all the same."""
    t = Timeline(scenario="test_quiet_under_load", alert="", factor=30.0, kind="quiet", fire_floor=5.0,
                 noise={"pages": 0, "messages": 1, "duplicates": 0, "flaps": 0}, **over)
    t.phases.append(Phase("workload: dashboard (20 users)", 100.0, 130.0, "ok"))
    t.outcome = "passed"
    return t


def test_the_noise_figure_and_a_quiet_drill_validate(tmp_path):
    for t in (a_timeline(noise=NOISY), a_quiet_timeline()):
        jsonschema.validate(json.loads(t.write(tmp_path).read_text()), SCHEMA)


@pytest.mark.parametrize("noise", [{"pages": 1}, {**NOISY, "pages": -1}, {**NOISY, "pages": 1.5}, {**NOISY, "x": 1}])
def test_the_schema_rejects_a_partial_or_odd_noise_figure(tmp_path, noise):
    data = json.loads(a_timeline().write(tmp_path).read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "noise": noise}, SCHEMA)


def test_a_timeline_from_before_the_noise_figure_still_loads(tmp_path):
    data = json.loads(a_timeline().write(tmp_path).read_text())
    for key in ("noise", "kind"):
        del data[key]
    old = Timeline.from_dict(data)
    assert (old.noise, old.kind) == ({}, "alert")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    loaded = load_timeline(path)
    assert (loaded["noise"], loaded["kind"]) == ({}, "alert")
    assert "| 1.20x | 3.0s | 13.0s | 12.0s | 1.08x | - |" in summary_markdown([loaded])  # not counted: "-"


def test_the_schema_rejects_a_timeline_without_its_events(tmp_path):
    data = json.loads(a_timeline().write(tmp_path).read_text())
    del data["events"]
    with pytest.raises(jsonschema.ValidationError, match="events"):
        jsonschema.validate(data, SCHEMA)


@pytest.mark.parametrize("path", sorted(TIMELINES.glob("*.json")), ids=lambda p: p.stem)
def test_the_sample_timelines_validate(path):
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)


def test_every_schema_field_is_documented():
    doc = (Path(__file__).parents[2] / "docs/timeline-schema.md").read_text()
    missing = [f for f in SCHEMA["properties"] if f"`{f}`" not in doc]
    assert not missing, f"docs/timeline-schema.md does not describe {missing}"


def test_the_figures_of_a_timeline():
    t = a_timeline()
    assert (t.time_to_fire, t.time_to_mitigate, t.time_to_resolve) == (6.0, 3.0, 13.0)
    assert t.notified_after() == {"pagerduty": 6.0}


def test_the_html_report_has_the_summary_and_one_chart_per_drill(timelines):
    html = render_html(timelines)
    assert len(re.findall(r'<tr class="summary-row">', html)) == len(timelines) == 5
    assert len(re.findall(r'<svg class="chart"', html)) == len(timelines)
    assert html.count('class="threshold"') == len(timelines), "each chart draws its threshold line"
    assert "docker compose -f docker-compose.test.yml restart redis" in html  # the runbook command run
    assert "51 generated since the drill began: delivered 51; 51 stored" in html  # an invariant's detail
    assert "mitigated 1.8s after the first page" in html  # what the people on call did
    assert "reached its maximum duration of 100s" in html  # why a drill was aborted
    assert "resolved notice did not reach" in html  # the failed drill's reason


def test_the_html_report_fetches_nothing(timelines):
    html = render_html(timelines)
    fetched = re.findall(r'(?:src|href)="(?!#)([^"]+)"|url\(|<link\b|@import', html)
    assert not fetched, f"the report must open from disk with nothing to fetch; it refers to {fetched}"


def test_the_markdown_summary(timelines):
    md = summary_markdown(timelines)
    assert "| RedisDisconnected | ✅ passed | runbook | 4.9s | 5.0s | 0.97x | 2.1s | 9.7s | 12.0s | 0.81x |" in md
    assert "| RedisDisconnected (people mitigate by the runbook) | ✅ passed | human | 4.4s |" in md
    assert "| RedisDisconnected (at production timings) | ✅ passed | runbook | 90.8s | 92.0s | 0.99x |" in md
    assert "**CriticalErrorRate** failed: CriticalErrorRate resolved but" in md


def test_every_summary_shows_the_notices_and_labels_a_quiet_drill():
    noisy, quiet = a_timeline(noise=NOISY), a_quiet_timeline()
    table = summary_table([noisy, quiet]).splitlines()
    assert table[0].endswith("  notices")
    assert table[2].startswith("RedisDisconnected") and table[2].endswith("  2 pages, 3 msgs, 1 dup, 1 flap")
    assert re.fullmatch(r"quiet: under_load\s+passed(\s+-){6}  0 pages, 1 msg", table[3]), table[3]
    md = summary_markdown([as_report_dict(noisy), as_report_dict(quiet)])
    assert "| 12.0s | 1.08x | 2 pages, 3 msgs, 1 dup, 1 flap |" in md
    assert "| quiet: under_load | ✅ passed | runbook | - | - | - | - | - | - | - | 0 pages, 1 msg |" in md
    assert "dups (firing again, nothing resolved between)" in md
    html = render_html([as_report_dict(noisy), as_report_dict(quiet)])
    assert '<td class="notices">2\u00a0pages, 3\u00a0msgs, 1\u00a0dup, 1\u00a0flap</td>' in html  # wraps at commas
    assert '<a href="#test-quiet-under-load">quiet: under_load</a>' in html
    assert "every notice of this drill's alerts: delivered 5: 2 pages, 3 messages; among them 1 duplicate and 1 flap" in html
    quiet_row = html.split('<a href="#test-quiet-under-load">')[1].split("</tr>")[0]
    assert quiet_row.count('<td class="num">-</td>') == 7 and "fire deadline" not in html.split('id="test-quiet')[1]


def test_the_sample_timelines_show_their_notices_as_not_counted(timelines):
    html = render_html(timelines)
    assert html.count('<td class="notices">-</td>') == len(timelines)
    assert html.count("every notice of this drill's alerts: not counted") == len(timelines)


def test_alertdrill_report_makes_it_again_from_a_folder(tmp_path, capsys):
    out, md = tmp_path / "r.html", tmp_path / "s.md"
    assert cli(["report", str(TIMELINES), "-o", str(out), "--markdown", str(md)]) == 0
    assert out.read_text().count('<svg class="chart"') == 5
    assert "RedisDisconnected" in md.read_text()


def test_alertdrill_report_on_an_empty_folder_says_what_to_do(tmp_path, capsys):
    assert cli(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "holds no timeline JSON files: run a drill first" in capsys.readouterr().err


def test_junit_properties_carry_the_figures():
    props = dict(junit_properties(a_timeline()))
    assert props["time_to_fire"] == "6.000" and props["fire_floor"] == "5.000" and props["fire_ratio"] == "1.200"
    assert props["time_to_mitigate"] == "3.000" and props["notified_after:pagerduty"] == "6.000"
    assert props["noise:pages"] == "" and props["noise:flaps"] == ""  # not counted
    props = dict(junit_properties(a_timeline(noise=NOISY)))
    assert [props[f"noise:{k}"] for k in ("pages", "messages", "duplicates", "flaps")] == ["2", "3", "1", "1"]


def test_history_appends_each_run_and_the_report_shows_the_trend(tmp_path, timelines):
    path = tmp_path / "history.jsonl"
    history.append(path, timelines)
    history.append(path, timelines)
    past = history.read(path)
    assert [len(past[a]) for a in ("RedisDisconnected", "CriticalErrorRate")] == [2, 2]
    trends = history.trend_svgs(past, timelines)
    html = render_html(timelines, trends=trends)
    assert html.count('<svg class="trend"') == len(timelines) and "2 runs; last 0.97x" in html
    history.append(path, [as_report_dict(a_timeline(noise=NOISY))])
    assert history.read(path)["RedisDisconnected"][-1]["noise"] == NOISY


def test_the_fire_ratio_gate_fails_a_slow_alert_naming_the_ratio():
    t = a_timeline()  # 6 s to fire against a 5 s floor: 1.2 x
    history.check_fire_ratio(t, 1.5)
    history.check_fire_ratio(t, None)
    with pytest.raises(DrillError, match=r"1\.20 x its floor, over the gate of 1\.1 x"):
        history.check_fire_ratio(t, 1.1)


@pytest.mark.parametrize("text,value,healthy", [("== 0", 0.0, False), ("== 0", 1.0, True), ("> 0.5", 0.7, False),
                                                ("> 0.5", 0.2, True), ("< 1", None, False)])
def test_threshold_sides(text, value, healthy):
    assert Threshold.read(text).healthy(value) is healthy


def test_an_unreadable_threshold_draws_no_line():
    assert Threshold.read("rises sharply") is None


def test_the_report_shows_each_notification_as_a_person_received_it(tmp_path):
    t = a_timeline()
    t.deliveries += [
        {"receiver": "pagerduty", "integration": "pagerduty", "status": "firing", "at": 106.0, "dedup_key": "4f2a9c",
         "shown": {"summary": "[FIRING:1] RedisDisconnected (critical): Backend cannot reach Redis",
                   "severity": "critical", "links": [{"href": "https://x/docs/runbook.md#redisdisconnected"}]}},
        {"receiver": "slack-oncall-alerts", "integration": "slack", "status": "firing", "at": 106.2,
         "shown": {"channel": "#oncall-alerts", "title": "[FIRING:1] RedisDisconnected (critical)"}},
        {"receiver": "pagerduty", "integration": "email", "status": "firing", "at": 106.1,
         "shown": {"rcpt_tos": ["oncall@example.com"], "subject": "[FIRING:1] RedisDisconnected (critical)"}}]
    t.delivery_problems = ["pagerduty: the PagerDuty incident 4f2a9c was never resolved"]
    path = t.write(tmp_path)
    jsonschema.validate(json.loads(path.read_text()), SCHEMA)
    html = render_html([as_report_dict(t)])
    assert "what people received" in html
    for seen in ("Backend cannot reach Redis", "https://x/docs/runbook.md#redisdisconnected", "channel: #oncall-alerts",
                 "rcpt tos: oncall@example.com", "incident 4f2a9c", "was never resolved"):
        assert seen in html, seen
