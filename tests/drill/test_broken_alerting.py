"""The drill engine goes red when alerting is broken: the Redis drill run against deliberately wrong
rules, routing and remediation must fail, each with the message that names the fault. The deadlines
are the drill's normal automatic ones, so only the breakage can explain the failure."""
from __future__ import annotations

import re

import pytest

from alertdrill.engine.breakage import broken_routing, broken_rules
from alertdrill.engine.remediations import RunbookAction
from alertdrill.errors import AlertNotFired, AlertNotResolved, NotificationMissing

from scenarios.test_redis_disconnected import run_redis_drill

pytestmark = [pytest.mark.drill, pytest.mark.broken_alerting]

ALERT = "RedisDisconnected"


def test_renamed_alert_fails_the_drill(drill, drill_context, drill_settings):
    with broken_rules(drill_context.stack, lambda t: t.replace(f"alert: {ALERT}", "alert: RedisDown")):
        with pytest.raises(AlertNotFired, match=f"no alerting rule named {ALERT}"):
            run_redis_drill(drill, drill_context, drill_settings.runbook)


def test_unreachable_threshold_fails_the_drill(drill, drill_context, drill_settings):
    def unreachable(text: str) -> str:
        # The rule's comparison `== 0` becomes `< -1`: redis_connected is 0 or 1, never below -1.
        head, rule = text.split(f"alert: {ALERT}", 1)
        return head + f"alert: {ALERT}" + re.sub(r"==\s*0", "< -1", rule, count=1)

    with broken_rules(drill_context.stack, unreachable):
        with pytest.raises(AlertNotFired, match=f"{ALERT} did not fire within"):
            run_redis_drill(drill, drill_context, drill_settings.runbook)


def test_wrong_receiver_fails_the_drill(drill, drill_context, drill_settings):
    # Critical alerts routed to the engineering manager instead of PagerDuty.
    def misroute(text: str) -> str:
        return text.replace("- receiver: pagerduty\n", "- receiver: engineering-manager\n", 1)

    with broken_routing(drill_context.stack, misroute):
        with pytest.raises(NotificationMissing, match="pagerduty got no notification"):
            run_redis_drill(drill, drill_context, drill_settings.runbook)


def test_remediation_that_does_not_work_fails_the_drill(drill, drill_context, drill_settings,
                                                        tmp_path):
    # A runbook whose Redis action restarts the backend instead: that does not bring a dead Redis back.
    runbook = tmp_path / "runbook.md"
    runbook.write_text(drill_settings.runbook.read_text().replace(
        "docker compose -f docker-compose.test.yml restart redis",
        "docker compose -f docker-compose.test.yml restart backend"))
    with pytest.raises(AlertNotResolved, match=f"{ALERT} kept firing"):
        run_redis_drill(drill, drill_context, runbook,
                        remediation=RunbookAction(runbook, ALERT, "restart backend", drill_context.stack))
