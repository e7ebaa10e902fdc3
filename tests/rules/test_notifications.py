"""Golden notifications: for every alert of the rules and every receiver the runbook's alert index says it
reaches, firing and resolved, every integration of that receiver is rendered from production's
alertmanager.yml and its templates with amtool (alertdrill.alerting.notifications), checked for what the
person on call must see (the alert's name, severity, summary and runbook link; the page's severity) and
compared with its golden file (tests/rules/__snapshots__/test_notifications/*.txt, as the person reads
it). A changed template shows as a diff of those files: `pytest tests/rules/test_notifications.py
--snapshot-update` rewrites them, and the diff is reviewed like code.

The fields of one receiver are rendered in one amtool call per template type (text, html), so the whole
file takes one call per case; the tests below it prove the check goes red on temporary copies."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from alertdrill.alerting import notification_data, notifications
from alertdrill.alerting.notifications import Renderer, TemplateError

import rulekit

PROMISES = rulekit.promises()
STATUSES = ("firing", "resolved")
CASES = [(a.alert, r, s) for a in PROMISES.alerts.values() for r in a.receivers for s in STATUSES]
# Where the stack mounts stack/alertmanager in the Alertmanager container (the config's templates: path).
PATH_MAP = {"/etc/alertmanager/src": rulekit.ALERTMANAGER.parent}
# Sample values of the labels the annotations name (and the rules group by).
SAMPLES = {"route": "/signals", "endpoint": "/signals", "instance": "backend:8000", "job": "backend"}


class TextSnapshot(SingleFileSnapshotExtension):
    """One plain-text golden file per case: the notification as a person reads it."""
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


def sample_value(alert: str) -> float:
    """A value on the alerting side of the runbook's threshold, for the annotations' `$value`."""
    t = PROMISES.alert(alert).threshold
    if t.op in (">", ">="):
        return round(t.value * 1.1, 4) if t.value else 1.0
    if t.op in ("<", "<="):
        return round(t.value * 0.9, 4)
    return t.value


def data_for(am: dict, rules: dict, alert: str, receiver: str, status: str) -> dict:
    rule = rulekit.alert_rules(rules)[alert]
    return notification_data.notification_data(am, receiver, rule, status=status, samples=SAMPLES,
                                           extra_labels=tuple(sorted(rulekit.grouping_labels(str(rule["expr"])))),
                                           value=sample_value(alert))


@pytest.fixture(scope="module")
def renderer(amtool, am) -> Renderer:
    return Renderer(amtool, notifications.template_globs(am, rulekit.ALERTMANAGER, PATH_MAP))


@pytest.mark.parametrize("alert,receiver,status", CASES, ids=["-".join(c) for c in CASES])
def test_golden_notification(alert, receiver, status, am, rules, renderer, snapshot):
    problems, rendered = notifications.golden(am, receiver, data_for(am, rules, alert, receiver, status), renderer)
    assert not problems, f"{alert} -> {receiver} ({status}):\n" + "\n".join(problems)
    assert set(rendered) == {i.name for i in notifications.integrations(am)[receiver]}
    assert notifications.as_text(rendered) == snapshot(extension_class=TextSnapshot)


def test_every_receiver_with_integrations_is_rendered(am):
    configured = {r for r, found in notifications.integrations(am).items() if found}
    assert configured == {r for _a, r, _s in CASES}, "a receiver no alert of the runbook reaches is never rendered"


def test_templated_fields_are_found_nested(am):
    paths = {f.path for i in notifications.integrations(am)["pagerduty"] for f in i.fields}
    assert {"pagerduty_configs[0].description", "pagerduty_configs[0].details.firing",
            "pagerduty_configs[0].links[0].href", "email_configs[0].headers.Subject"} <= paths
    fields = notifications.templated_fields({"fields": [{"title": "Route", "value": "{{ .CommonLabels.route }}"}],
                                             "channel": "#x", "text": "{{ .Status }}"})
    assert [f.path for f in fields] == ["fields[0].value", "text"]


def test_annotations_are_filled_as_prometheus_would():
    filled = notification_data.fill_annotations(
        {"a": "on {{ $labels.route }} is {{ $value | humanizeDuration }}", "b": "{{ $value | humanizePercentage }}",
         "c": '{{ $value | printf "%.2f" }} / {{ humanize $value }}', "d": "{{ .Labels.route }} {{ $unknown }}"},
        {"route": "/x"}, 90.5)
    assert filled == {"a": "on /x is 1m 30s", "b": "9050%", "c": "90.50 / 90.5", "d": "/x {{ $unknown }}"}
    assert notification_data.fill_annotations({"a": "{{ $value | humanizeDuration }}"}, {}, 0.25) == {"a": "250ms"}
    assert notification_data.fill_annotations({"a": "{{ $value | humanize }}"}, {}, 12345) == {"a": "12.35k"}


# ------------------------------------------------------------------- the check goes red (temp copies)
def copy_of_config(tmp_path: Path, change_template=None, change_config=None) -> tuple[dict, Path]:
    """alertmanager.yml and its templates copied under tmp_path (mounted there, as PATH_MAP says for the
    real ones), the template text and the parsed config changed by the given functions."""
    shutil.copytree(rulekit.ALERTMANAGER.parent / "templates", tmp_path / "templates")
    tmpl = tmp_path / "templates" / "oncall.tmpl"
    if change_template:
        tmpl.write_text(change_template(tmpl.read_text()))
    am = yaml.safe_load(rulekit.ALERTMANAGER.read_text())
    if change_config:
        change_config(am)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(am, sort_keys=False))
    return am, path


def golden_copy(amtool, rules, tmp_path, receiver, alert="CriticalAPILatency", status="firing", **changes):
    am, path = copy_of_config(tmp_path, **changes)
    renderer = Renderer(amtool, notifications.template_globs(am, path, {"/etc/alertmanager/src": tmp_path}))
    return notifications.golden(am, receiver, data_for(am, rules, alert, receiver, status), renderer)


def receiver_config(am: dict, name: str) -> dict:
    return next(r for r in am["receivers"] if r["name"] == name)


def test_a_misspelt_annotation_leaves_the_summary_out(amtool, rules, tmp_path):
    def misspell(text: str) -> str:
        assert ".Annotations.summary" in text
        return text.replace(".Annotations.summary", ".Annotations.sumary")

    problems, _ = golden_copy(amtool, rules, tmp_path, "pagerduty", change_template=misspell)
    summary = "p95 latency above 5s on /signals"
    page = [p for p in problems if "pagerduty_configs[0]" in p]
    assert page and all(f"summary {summary!r} is not shown" in p for p in page), problems
    assert "pagerduty_configs[0].description" in page[0] and """(template '{{ template "oncall.summary" . }}')""" in page[0]
    # the mail's body (and Slack's text) still show it, in their list of the alert's annotations
    assert not [p for p in problems if "email_configs[0]" in p], problems


def test_a_field_that_renders_empty_is_named(amtool, rules, tmp_path):
    def change(am):
        receiver_config(am, "slack-oncall-alerts")["slack_configs"][0]["text"] = "{{ .CommonAnnotations.sumary }}"

    problems, rendered = golden_copy(amtool, rules, tmp_path, "slack-oncall-alerts", change_config=change)
    assert rendered["slack_configs[0]"]["text"] == ""
    assert any(p.startswith("receiver slack-oncall-alerts, slack_configs[0] (Slack message): ")
               and "slack_configs[0].text = '' (template '{{ .CommonAnnotations.sumary }}') renders empty" in p
               for p in problems), problems


def test_a_template_syntax_error_names_the_template(amtool, rules, tmp_path):
    def broken(text: str) -> str:
        return text.replace('{{ define "oncall.what" }}', '{{ define "oncall.what" }}{{ if }}', 1)

    with pytest.raises(TemplateError, match=r"receiver pagerduty, field pagerduty_configs\[0\]\.severity: the "
                                            r"template .* does not render .*oncall\.tmpl:\d+: missing value for if"):
        golden_copy(amtool, rules, tmp_path, "pagerduty", change_template=broken)


def test_a_field_syntax_error_names_the_field_and_its_template(amtool, rules, tmp_path):
    def change(am):
        receiver_config(am, "pagerduty")["pagerduty_configs"][0]["description"] = '{{ template "oncall.summary" . }'

    with pytest.raises(TemplateError) as e:
        golden_copy(amtool, rules, tmp_path, "pagerduty", change_config=change)
    assert "field pagerduty_configs[0].description" in str(e.value)
    assert """the template '{{ template "oncall.summary" . }'""" in str(e.value) and "amtool" in str(e.value)


def test_a_wrong_pagerduty_severity_is_a_problem(amtool, rules, tmp_path):
    def change(am):
        receiver_config(am, "pagerduty")["pagerduty_configs"][0]["severity"] = "{{ .CommonLabels.team }}"

    problems, _ = golden_copy(amtool, rules, tmp_path, "pagerduty", status="resolved", change_config=change)
    assert problems == ["receiver pagerduty, pagerduty_configs[0] (PagerDuty page): pagerduty_configs[0].severity = "
                        "'platform' (template '{{ .CommonLabels.team }}') is not the alert's severity 'critical'"]


def test_a_template_glob_that_matches_nothing_is_an_error(am):
    with pytest.raises(TemplateError, match="matches no file here"):
        notifications.template_globs(am, rulekit.ALERTMANAGER, {})
