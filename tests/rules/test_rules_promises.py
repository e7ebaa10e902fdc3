"""The runbook's promises (its alert index and notification timing tables) are the specification: the
rules, the routing and the scenarios must say the same, and each failure names both sides."""
from __future__ import annotations

import importlib
import pkgutil

import pytest

import rulekit
import scenarios
from alertdrill.alerting import routing

PROMISES = rulekit.promises()
SCENARIOS = [importlib.import_module(f"scenarios.{m.name}") for m in pkgutil.iter_modules(scenarios.__path__)
             if m.name.startswith("test_")]


def test_every_rule_has_a_promise_and_every_promise_a_rule(rules):
    rule_names, promised = set(rulekit.alert_rules(rules)), set(PROMISES.alerts)
    assert rule_names == promised, (f"rules without a row in the runbook's alert index: {sorted(rule_names - promised)}; "
                                    f"promised alerts without a rule: {sorted(promised - rule_names)}")


@pytest.mark.parametrize("alert", sorted(PROMISES.alerts))
def test_rule_keeps_the_promise(alert, rules):
    """Severity, threshold, window, `for` and routing labels, as the runbook's alert index states them."""
    violations = rulekit.rule_promise_violations(rules, PROMISES, only=alert)
    assert not violations, "\n".join(violations)


def test_routing_keeps_the_promises(am, rules):
    """Every route that notifies for an alert's labels: its receiver is promised (in order), its
    effective group_wait, group_interval and repeat_interval are the runbook's for that receiver, and
    notices are grouped by the promised labels."""
    violations = rulekit.routing_promise_violations(am, rules, PROMISES)
    assert not violations, "\n".join(violations)


def test_inhibitions_are_the_promised_ones_and_match_labels_the_rules_produce(am, rules):
    promised = {(a.alert, i.target, tuple(sorted(i.equal))) for a in PROMISES.alerts.values() for i in a.inhibits}
    configured = set(rulekit.inhibition_pairs(am))
    assert configured == promised, f"the runbook promises inhibitions {sorted(promised)}, the routing has {sorted(configured)}"
    by_name = rulekit.alert_rules(rules)
    for rule in am.get("inhibit_rules") or []:
        for side in ("source_matchers", "target_matchers"):
            produced = [n for n, r in by_name.items()
                        if routing.matches({"matchers": rule[side]}, {"alertname": n, **(r.get("labels") or {})})]
            assert produced, f"inhibit rule {side} {rule[side]} match no alert the rules produce"
            for name in produced:
                kept = rulekit.grouping_labels(str(by_name[name]["expr"]))
                missing = [e for e in rule.get("equal") or [] if e not in kept]
                assert not missing, (f"inhibit rule equal {rule.get('equal')}: {name}'s expression keeps "
                                     f"{sorted(kept)}, so its alerts never carry {missing}: the inhibition never matches")


@pytest.mark.parametrize("module", SCENARIOS, ids=lambda m: m.EXPECTATION.alertname)
def test_scenario_expects_what_the_runbook_promises(module):
    e = module.EXPECTATION
    p = PROMISES.alert(e.alertname)
    assert e.severity == p.severity, f"{module.__name__}: expects severity {e.severity}, the runbook promises {p.severity}"
    assert e.receivers == frozenset(p.receivers), (
        f"{module.__name__}: expects receivers {sorted(e.receivers)}, the runbook promises {list(p.receivers)}")
    for key, value in p.labels.items():
        assert e.labels.get(key) == value, (
            f"{module.__name__}: the runbook routes {e.alertname} by {key}=\"{value}\"; the scenario's labels "
            f"{e.labels} do not say so")
    assert e.threshold.replace(" ", "") == str(p.threshold).replace(" ", ""), (
        f"{module.__name__}: shows threshold {e.threshold!r}, the runbook promises {p.threshold}")
