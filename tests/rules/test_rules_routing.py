"""amtool config routes test --verify.receivers for every alert's own labels; inhibition pairs."""
from __future__ import annotations

import pytest

import rulekit

EXPECTED = rulekit.load_expected()


@pytest.mark.parametrize("alert", list(EXPECTED["alerts"]))
def test_alert_reaches_its_receivers(alert, amtool, rules):
    labels = rulekit.rule_labels(rulekit.alert_rules(rules)[alert])
    want = EXPECTED["alerts"][alert]["receivers"]
    ok, got = rulekit.route_check(amtool, rulekit.ALERTMANAGER, labels, want)
    assert ok, f"{alert} {labels} reaches [{got}], expected [{','.join(want)}]"


@pytest.mark.parametrize("alert", sorted(rulekit.per_value_domains()))
def test_every_endpoint_and_route_reaches_the_receivers(alert, amtool, rules):
    """An alert per endpoint or route is routed with amtool once for every value of the platform's label
    domain (scenarios/platform/label_domain.yml): a route that skips /billing/* for the pager is caught."""
    rule, want = rulekit.alert_rules(rules)[alert], EXPECTED["alerts"][alert]["receivers"]
    checks = rulekit.run_parallel(lambda labels: (labels, rulekit.route_check(amtool, rulekit.ALERTMANAGER, labels, want)),
                                  rulekit.labels_for_every_value(rule))
    assert len(checks) == len(rulekit.label_domain()[rulekit.domain_label(rule)])
    wrong = [f"{labels} reaches [{got}]" for labels, (ok, got) in checks if not ok]
    assert not wrong, f"{alert}, expected [{','.join(want)}]:\n" + "\n".join(wrong)


@pytest.mark.parametrize("case", EXPECTED["other_routes"], ids=lambda c: c["labels"]["alertname"])
def test_other_label_sets_reach_oncall(case, amtool):
    ok, got = rulekit.route_check(amtool, rulekit.ALERTMANAGER, case["labels"], case["receivers"])
    assert ok, f"{case['labels']} reaches [{got}], expected {case['receivers']}"


def test_inhibitions(am):
    want = {(i["source"], i["target"], tuple(sorted(i["equal"]))) for i in EXPECTED["inhibitions"]}
    assert set(rulekit.inhibition_pairs(am)) == want


def test_sub_routes_continue_so_one_alert_reaches_several_receivers(am):
    routes = am["route"]["routes"]
    assert all(r.get("continue") for r in routes[:-1]), "every sub-route but the catch-all needs continue: true"
