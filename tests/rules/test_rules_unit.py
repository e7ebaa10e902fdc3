"""promtool unit tests of every alert at production durations (tests/rules/alerts_test.yml)."""
from __future__ import annotations

import pytest

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
