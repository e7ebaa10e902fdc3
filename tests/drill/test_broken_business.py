"""Each business drill goes red when its rule, route or remediation is broken: one mutation per
scenario, with the drill's normal (automatic) deadlines."""
from __future__ import annotations

import pytest

from alertdrill.engine.breakage import broken_routing, broken_rules, in_rule
from alertdrill.errors import AlertNotFired, NotificationMissing

from scenarios import (test_ea_poll_errors, test_high_approval_rejection_rate, test_high_rate_limit_rejections,
                       test_payment_webhook_failures, test_signal_ingestion_stopped)

pytestmark = [pytest.mark.drill, pytest.mark.broken_alerting]


def test_manager_route_dropped_fails_the_drill(drill, drill_context, drill_settings):
    # Revenue-impacting pages no longer reach the engineering manager.
    def drop_manager(text: str) -> str:
        start = text.index("  - receiver: engineering-manager\n")
        end = text.index("  - receiver:", start + 1)
        return text[:start] + text[end:]

    with broken_routing(drill_context.stack, drop_manager):
        with pytest.raises(NotificationMissing, match="engineering-manager got no notification"):
            test_signal_ingestion_stopped.run(drill, drill_context, drill_settings.runbook)


def test_webhook_threshold_moved_fails_the_drill(drill, drill_context, drill_settings):
    # Replays must pass 100/s before anyone hears of them.
    with broken_rules(drill_context.stack, in_rule("PaymentWebhookFailures", "> 0.1", "> 100")):
        with pytest.raises(AlertNotFired, match="PaymentWebhookFailures did not fire within"):
            test_payment_webhook_failures.run_replay(drill, drill_context, drill_settings.runbook)


def test_ea_threshold_moved_fails_the_drill(drill, drill_context, drill_settings, tmp_path):
    with broken_rules(drill_context.stack, in_rule("EAPollErrors", "> 0.5", "> 50")):
        with pytest.raises(AlertNotFired, match="EAPollErrors did not fire within"):
            test_ea_poll_errors.run(drill, drill_context, drill_settings.runbook, tmp_path)


def test_severity_raised_fails_the_drill(drill, drill_context, drill_settings):
    # A warning promoted to critical would page people at night for a signal-quality trend.
    # (A mutation of the remediation is not used here: at x30 the rejection ratio over a 10 s window
    # holds ~10 decisions, so the alert can go inactive by chance and hide a remediation that did nothing.)
    with broken_rules(drill_context.stack, in_rule("HighApprovalRejectionRate", "severity: warning",
                                                   "severity: critical")):
        with pytest.raises(AlertNotFired, match="HighApprovalRejectionRate fired with the wrong labels"):
            test_high_approval_rejection_rate.run(drill, drill_context, drill_settings.runbook)


def test_rate_limit_rule_without_route_fails_the_drill(drill, drill_context, drill_settings):
    # The rule sums over every route: the alert no longer says which route is flooded.
    with broken_rules(drill_context.stack, in_rule("HighRateLimitRejections", " by (route)", "")):
        with pytest.raises(AlertNotFired, match="HighRateLimitRejections did not fire within"):
            test_high_rate_limit_rejections.run(drill, drill_context, drill_settings.runbook)
