"""promtool unit tests of every alert at production durations (tests/rules/alerts_test.yml)."""
from __future__ import annotations

import pytest

import boundaries
import rulekit

ALERTS = list(rulekit.load_expected()["alerts"])


def test_promtool_unit_tests_pass(promtool):
    p = promtool.run("test", "rules", rulekit.UNIT_TESTS, cwd=rulekit.UNIT_TESTS.parent)
    assert p.returncode == 0, p.stdout + p.stderr


def test_unit_tests_load_the_production_rules(unit_tests):
    files = [(rulekit.UNIT_TESTS.parent / f).resolve() for f in unit_tests["rule_files"]]
    assert files == [rulekit.RULES]


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_has_each_kind_of_check(alert, unit_tests):
    """fires (with exp_labels and exp_annotations), silent before `for:`, resolves, silent just below."""
    kinds = rulekit.unit_test_kinds(unit_tests).get(alert, set())
    missing = [k for k in rulekit.KINDS if k not in kinds]
    assert not missing, f"{alert}: alerts_test.yml has no {', '.join(missing)} check"


def test_threshold_boundaries_hold(promtool, tmp_path):
    """Inputs 4 % above every promised threshold fire, 4 % below stay silent (tests/rules/boundaries.py), on
    every endpoint or route of the platform's label domain for the alerts that are per endpoint or route."""
    per_value = rulekit.per_value_domains()
    assert set(per_value) == set(boundaries.PER_VALUE), (
        f"alerts per endpoint or route: {sorted(per_value)}; boundaries.PER_VALUE drives {sorted(boundaries.PER_VALUE)}")
    groups = boundaries.boundary_groups(rulekit.promises(), per_value)
    assert len(groups) >= 2 * 9, f"too few boundary groups: {[g['name'] for g in groups]}"
    doc = {"evaluation_interval": "1m", "tests": groups}
    p = rulekit.run_unit_tests(promtool, doc, rulekit.RULES, tmp_path, "boundaries.yml")
    assert p.returncode == 0, p.stdout + p.stderr


def test_every_thresholded_alert_has_boundary_inputs():
    promises = rulekit.promises()
    missing = [a for a, p in promises.alerts.items() if p.threshold.value != 0 and a not in boundaries.INPUTS]
    assert not missing, f"add how to drive these alerts' metrics to tests/rules/boundaries.py INPUTS: {missing}"
