"""The rule file and the Alertmanager configuration are valid and say what the runbook says."""
from __future__ import annotations


import pytest

import rulekit
from alertdrill.adopt.check import links
from alertdrill.adopt.check.model import Project
from alertdrill.adopt.check.receivers import delivery_problems
from alertdrill.config import current
from alertdrill.runbook.links import link_problems
from alertdrill.runbook.parse import parse_runbook
from alertdrill.runbook.promises import parse_promises
from alertdrill.alerting.durations import parse_ms as parse_duration

EXPECTED_ALERTS = list(rulekit.load_expected()["alerts"])


def test_promtool_check_rules(promtool):
    p = promtool.run("check", "rules", rulekit.RULES)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{len(EXPECTED_ALERTS)} rules found" in p.stdout


def test_amtool_check_config(amtool):
    p = amtool.run("check-config", rulekit.ALERTMANAGER)
    assert p.returncode == 0, p.stdout + p.stderr


def test_one_rule_per_expected_alert(rules):
    names = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert sorted(names) == sorted(EXPECTED_ALERTS), "the rules and the runbook's alert index disagree"
    assert len(names) == len(set(names)), f"duplicate alert names: {names}"


@pytest.mark.parametrize("alert", EXPECTED_ALERTS)
def test_rule_labels_for_and_annotations(alert, rules, expected):
    rule = rulekit.alert_rules(rules)[alert]
    spec = expected["alerts"][alert]
    labels = rule.get("labels") or {}
    assert labels.get("severity") == spec["severity"]
    assert str(labels.get("revenue_impact", "false")) == ("true" if spec.get("revenue_impact") else "false")
    assert rule.get("for") and parse_duration(rule["for"]) > 0, "every rule needs a non-zero for:"
    assert parse_duration(rule["for"]) == parse_duration(spec["for"])
    ann = rule.get("annotations") or {}
    assert ann.get("summary")
    assert "$value" in ann.get("description", ""), "the description must carry the live value"
    assert ann.get("runbook_url", "").endswith(f"docs/runbook.md#{alert.lower()}")
    assert ann["runbook_url"].startswith("https://github.com/alertdrill/alertdrill/blob/main/")


def test_runbook_urls_point_at_existing_headings(rules):
    rb = parse_runbook(rulekit.RUNBOOK)
    for name, rule in rulekit.alert_rules(rules).items():
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor in rb.anchors, f"{name}: runbook_url anchor #{anchor} is no heading of docs/runbook.md"
        assert name in rb.section(name).alerts
        # the check the drills make of every notice (and `alertdrill check` of a user's rules): path and anchor
        assert link_problems(rule["annotations"]["runbook_url"], name, rb, rulekit.REPO) == []
    assert links.link_check(Project(current())) == []


def test_receivers_are_the_runbooks_integrations_with_send_resolved(am, expected):
    """Production's receivers reach people as the runbook's Receivers table says: PagerDuty, Slack and mail,
    to its channels and address, each sending the resolve too (alertdrill.adopt.check.receivers), with the
    on-call service's routing key, and no webhook to the alert sink (drills redirect the real integrations,
    alertdrill.alerting.delivery)."""
    promised = parse_promises(parse_runbook(rulekit.RUNBOOK)).deliveries
    receivers = {r["name"]: r for r in am["receivers"]}
    assert set(receivers) == set(expected["receivers"]) == set(promised)
    problems = delivery_problems(am, promised)
    assert not problems, "\n".join(map(str, problems))
    for name, deliveries in promised.items():
        for want in deliveries:
            if want.integration == "pagerduty":
                configs = receivers[name]["pagerduty_configs"]
                assert [c["routing_key_file"] for c in configs] == [expected["pagerduty_routing_key_file"]], name
    assert "9095" not in rulekit.ALERTMANAGER.read_text(), "production routes to the alert sink"


def test_production_timers_and_grouping(am):
    route = am["route"]
    assert {"alertname", "severity"} <= set(route["group_by"])
    assert parse_duration(route["group_wait"]) == parse_duration("30s")
    assert parse_duration(route["group_interval"]) == parse_duration("5m")
    assert parse_duration(route["repeat_interval"]) >= parse_duration("1h")


