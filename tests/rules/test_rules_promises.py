"""The runbook's promises (its alert index and notification timing tables) are the specification: the
rules, the routing and the scenarios must say the same, and each failure names both sides."""
from __future__ import annotations

import pytest

import rulekit
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.adopt.check import inhibitions

PROMISES = rulekit.promises()
SCENARIOS = rulekit.scenario_modules(AlertExpectation)  # the quiet drills: tests/rules/test_quiet.py


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
    promised = inhibitions.promised_pairs(PROMISES)
    configured = set(rulekit.inhibition_pairs(am))
    assert configured == promised, f"the runbook promises inhibitions {sorted(promised)}, the routing has {sorted(configured)}"
    # each side's matchers match an alert the rules produce, whose expression keeps every `equal` label
    problems = inhibitions.matcher_problems(am, rules, rulekit.ALERTMANAGER.name)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("module", SCENARIOS, ids=lambda m: m.EXPECTATION.alertname)
def test_scenario_expects_what_the_runbook_promises(module):
    """A scenario says only what the runbook does not: severity, receivers, threshold and routing labels
    come from the alert index of the runbook the drill reads, and its instance labels contradict none."""
    e = module.EXPECTATION
    assert (e.severity, e.receivers, e.threshold) == (None, None, None), (
        f"{module.__name__}: writes severity {e.severity!r}, receivers {e.receivers}, threshold {e.threshold!r} "
        "itself: leave them to the runbook (AlertExpectation.from_runbook)")
    p, resolved = PROMISES.alert(e.alertname), e.against(PROMISES)
    assert (resolved.severity, resolved.receivers) == (p.severity, frozenset(p.receivers))
    assert resolved.threshold == str(p.threshold)
    for key, value in p.labels.items():
        assert resolved.labels.get(key) == value, (
            f"{module.__name__}: the runbook routes {e.alertname} by {key}=\"{value}\"; the scenario's instance "
            f"{e.labels} says otherwise")


def test_an_edited_runbook_moves_the_expectation_with_it():
    import dataclasses

    from alertdrill.engine.expectation import AlertExpectation
    from alertdrill.runbook.promises import PromiseError

    e = AlertExpectation.from_runbook("RedisDisconnected", watch="min(redis_connected)")
    edited = dataclasses.replace(PROMISES, alerts={**PROMISES.alerts, "RedisDisconnected": dataclasses.replace(
        PROMISES.alert("RedisDisconnected"), severity="warning", receivers=("slack-oncall-alerts",))})
    assert (e.against(edited).severity, e.against(edited).receivers) == ("warning", frozenset({"slack-oncall-alerts"}))
    with pytest.raises(PromiseError, match="has no row for Renamed"):
        AlertExpectation.from_runbook("Renamed").against(PROMISES)
    explicit = AlertExpectation("WebDown", "critical", frozenset({"pager"}), threshold="== 0")
    assert explicit.against(PROMISES) is explicit, "a scaffolded drill that says it all needs no alert index"
