"""Fast tier: the alert rules and the Alertmanager routing, tested offline with promtool and amtool at
production settings (and scaled to the drill factor). No containers; skips when the tools are missing."""
from __future__ import annotations

import pytest

from alertdrill.alerting import promtools

import boundaries
import rulekit


@pytest.fixture(scope="session")
def promtool() -> promtools.Tool:
    try:
        return promtools.promtool()
    except promtools.ToolNotFound as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def amtool() -> promtools.Tool:
    try:
        return promtools.amtool()
    except promtools.ToolNotFound as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def rules() -> dict:
    return rulekit.load_yaml(rulekit.RULES)


@pytest.fixture(scope="session")
def am() -> dict:
    return rulekit.load_yaml(rulekit.ALERTMANAGER)


@pytest.fixture(scope="session")
def unit_tests() -> dict:
    """alerts_test.yml plus the threshold boundary groups generated from the runbook's promises."""
    doc = rulekit.load_yaml(rulekit.UNIT_TESTS)
    doc["tests"] = doc["tests"] + boundaries.boundary_groups(rulekit.promises(), rulekit.per_value_domains())
    return doc


@pytest.fixture(scope="session")
def expected() -> dict:
    return rulekit.load_expected()
