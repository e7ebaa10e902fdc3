"""The runbook's promises (its alert index and notification timing tables) are the specification: the
rules, the routing and the scenarios must say the same, and each failure names both sides."""
from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import rulekit
import scenarios
from alertdrill.alerting.durations import format_ms, parse_ms

PROMISES = rulekit.promises()
SCENARIOS = [importlib.import_module(f"scenarios.{m.name}") for m in pkgutil.iter_modules(scenarios.__path__)
             if m.name.startswith("test_")]
_COMPARISON_RE = re.compile(r"(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


def _rule(rules, alert):
    found = rulekit.alert_rules(rules)
    assert alert in found, f"the runbook promises {alert}; the rules ({rulekit.RULES.name}) have no such alert"
    return found[alert]


def test_every_rule_has_a_promise_and_every_promise_a_rule(rules):
    rule_names, promised = set(rulekit.alert_rules(rules)), set(PROMISES.alerts)
    assert rule_names == promised, (f"rules without a row in the runbook's alert index: {sorted(rule_names - promised)}; "
                                    f"promised alerts without a rule: {sorted(promised - rule_names)}")


@pytest.mark.parametrize("alert", sorted(PROMISES.alerts))
def test_rule_keeps_the_promise(alert, rules):
    p, rule = PROMISES.alert(alert), _rule(rules, alert)
    labels = rule.get("labels") or {}
    assert labels.get("severity") == p.severity, (
        f"{alert}: the runbook promises severity {p.severity}, the rule says {labels.get('severity')}")
    assert parse_ms(rule.get("for") or "0s") == p.for_ms, (
        f"{alert}: the runbook promises for {format_ms(p.for_ms)}, the rule says {rule.get('for')}")
    m = _COMPARISON_RE.search(str(rule["expr"]).strip())
    assert m, f"{alert}: the rule's expression does not end in a comparison: {rule['expr']}"
    assert (m.group(1), float(m.group(2))) == (p.threshold.op, p.threshold.value), (
        f"{alert}: the runbook promises threshold {p.threshold}, the rule compares {m.group(1)} {m.group(2)}")
    for key, value in p.labels.items():
        assert str(labels.get(key)) == value, (
            f"{alert}: the runbook routes it by {key}=\"{value}\", the rule's label is {labels.get(key)!r}")


@pytest.mark.parametrize("alert", sorted(PROMISES.alerts))
def test_routing_delivers_to_the_promised_receivers_with_the_promised_timers(alert, am, rules):
    """Every route that notifies for the alert's labels: its receiver is promised, and its effective
    group_wait, group_interval and repeat_interval are the runbook's for that receiver."""
    p = PROMISES.alert(alert)
    labels = {"alertname": alert, **{k: str(v) for k, v in (_rule(rules, alert).get("labels") or {}).items()}}
    routes = rulekit.delivering_routes(am, labels)
    got = [r for r, _t in routes]
    assert got == list(p.receivers), f"{alert}: the runbook promises {list(p.receivers)}, the routing delivers to {got}"
    for receiver, timers in routes:
        want = PROMISES.receiver_timers(receiver)
        for name, value in (("group_wait", want.group_wait_ms), ("group_interval", want.group_interval_ms),
                            ("repeat_interval", want.repeat_interval_ms)):
            assert timers[name] == value, (f"{alert} -> {receiver}: the runbook promises {name} {format_ms(value)}, "
                                           f"the route that delivers it says {format_ms(timers[name])}")


def test_inhibitions_are_the_promised_ones_and_match_labels_the_rules_produce(am, rules):
    promised = {(a.alert, i.target, tuple(sorted(i.equal))) for a in PROMISES.alerts.values() for i in a.inhibits}
    configured = set(rulekit.inhibition_pairs(am))
    assert configured == promised, f"the runbook promises inhibitions {sorted(promised)}, the routing has {sorted(configured)}"
    by_name = rulekit.alert_rules(rules)
    for rule in am.get("inhibit_rules") or []:
        for side in ("source_matchers", "target_matchers"):
            produced = [n for n, r in by_name.items()
                        if rulekit._matches({"matchers": rule[side]}, {"alertname": n, **(r.get("labels") or {})})]
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
