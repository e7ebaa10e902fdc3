"""Each API-health drill goes red when its rule, route or remediation is broken: one mutation per
scenario, run with the drill's normal (automatic) deadlines so that only the mutation can explain the
failure."""
from __future__ import annotations

import pytest

from alertdrill.engine.breakage import broken_routing, broken_rules, in_rule
from alertdrill.errors import AlertNotFired, AlertNotResolved, NotificationMissing
from alertdrill.engine.evidence import InvestigationFailed

from scenarios import (test_critical_api_latency, test_critical_error_rate, test_database_connection_pool_exhausted,
                       test_high_api_latency, test_high_error_rate)

pytestmark = [pytest.mark.drill, pytest.mark.broken_alerting]


def test_latency_threshold_moved_fails_the_drill(drill, drill_context, drill_settings):
    # HighAPILatency's threshold moved from 1 s to 30 s: the starving pool no longer crosses it.
    with broken_rules(drill_context.stack, in_rule("HighAPILatency", ") > 1", ") > 30")):
        with pytest.raises(AlertNotFired, match="HighAPILatency did not fire within"):
            test_high_api_latency.run(drill, drill_context, drill_settings.runbook)


def test_inhibition_removed_fails_the_drill(drill, drill_context, drill_settings):
    # Without the inhibit rule, the warning twin is not silenced while CriticalAPILatency fires.
    def drop_latency_inhibition(text: str) -> str:
        start = text.index("- source_matchers:\n  - alertname=\"CriticalAPILatency\"")
        end = text.index("- source_matchers:", start + 1)
        return text[:start] + text[end:]

    with broken_routing(drill_context.stack, drop_latency_inhibition):
        with pytest.raises((InvestigationFailed, AssertionError), match="not inhibited|reached Slack"):
            test_critical_api_latency.run(drill, drill_context, drill_settings.runbook)


def test_warning_routed_to_the_wrong_receiver_fails_the_drill(drill, drill_context, drill_settings):
    # The catch-all route (warnings to Slack #oncall-alerts) sends to PagerDuty instead.
    def misroute(text: str) -> str:
        head, sep, tail = text.rpartition("  - receiver: slack-oncall-alerts\n")
        if not sep:
            raise ValueError("no catch-all slack-oncall-alerts route in the Alertmanager config")
        return head + "  - receiver: pagerduty\n" + tail

    with broken_routing(drill_context.stack, misroute):
        with pytest.raises(NotificationMissing, match="slack-oncall-alerts got no notification"):
            test_high_error_rate.run(drill, drill_context, drill_settings.runbook)


def test_severity_changed_fails_the_drill(drill, drill_context, drill_settings):
    # CriticalErrorRate demoted to a warning: nobody would be paged.
    with broken_rules(drill_context.stack, in_rule("CriticalErrorRate", "severity: critical", "severity: warning")):
        with pytest.raises(AlertNotFired, match="CriticalErrorRate fired with the wrong labels"):
            test_critical_error_rate.run(drill, drill_context, drill_settings.runbook)


def test_remediation_that_kills_nothing_fails_the_drill(drill, drill_context, drill_settings, tmp_path):
    # A runbook whose terminate step only targets queries older than 30 minutes frees nothing.
    runbook = tmp_path / "runbook.md"
    text = drill_settings.runbook.read_text()
    assert "interval '30 seconds'" in text
    runbook.write_text(text.replace("interval '30 seconds'", "interval '30 minutes'"))
    with pytest.raises(AlertNotResolved, match="DatabaseConnectionPoolExhausted kept firing"):
        test_database_connection_pool_exhausted.run(drill, drill_context, runbook)
