"""Each drill goes red when its alerting is broken: the drills run against deliberately wrong rules,
routing and runbooks, with their normal deadlines, and each must fail with the error and message that
name the breakage. One row per breakage: (scenario, breakage, expected error, message)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import ModuleType

import pytest

from tests.drill.breakage import Breakage, drop_between, in_rule, replace
from alertdrill.errors import (AlertNotFired, AlertNotResolved, FalseAlarm, InvariantViolated, InvestigationFailed,
                               NotificationLate, NotificationMissing, UnexpectedAlert)

from scenarios import (test_critical_api_latency, test_critical_error_rate, test_database_connection_pool_exhausted,
                       test_ea_poll_errors, test_high_api_latency, test_high_approval_rejection_rate,
                       test_high_error_rate, test_high_rate_limit_rejections, test_payment_webhook_failures,
                       test_quiet_crawler, test_quiet_hang_ups, test_quiet_rejections, test_redis_disconnected,
                       test_signal_ingestion_stopped)

pytestmark = [pytest.mark.drill, pytest.mark.broken_alerting]


@dataclass(frozen=True)
class Case:
    id: str
    scenario: ModuleType
    breakage: Breakage
    error: type | tuple[type, ...]
    message: str
    options: dict = field(default_factory=dict)


def _last_slack_route_to_pagerduty(text: str) -> str:
    head, sep, tail = text.rpartition("  - receiver: slack-oncall-alerts\n")
    if not sep:
        raise ValueError("no catch-all slack-oncall-alerts route in the Alertmanager config")
    return head + "  - receiver: pagerduty\n" + tail


def _without_for(alert: str):
    """The rule's `for:` line gone: the alert fires at the first evaluation that sees its condition."""
    def edit(text: str) -> str:
        start = text.index(f"- alert: {alert}\n")
        end = text.find("- alert: ", start + 1)
        rule, n = re.subn(r"\n *for: *\S+ *(?=\n)", "", text[start:end], count=1)
        if not n:
            raise ValueError(f"no `for:` in the rule {alert}: the breakage would prove nothing")
        return text[:start] + rule + text[end:]

    return edit


CASES = [
    # RedisDisconnected: the rule, its route and its remediation.
    Case("RedisDisconnected-renamed", test_redis_disconnected,
         Breakage.rules(replace("alert: RedisDisconnected", "alert: RedisDown"), "the alert renamed"),
         AlertNotFired, "no alerting rule named RedisDisconnected"),
    Case("RedisDisconnected-unreachable-threshold", test_redis_disconnected,
         Breakage.rules(in_rule("RedisDisconnected", "== 0", "< -1"), "redis_connected is never below -1"),
         AlertNotFired, "RedisDisconnected did not fire within"),
    Case("RedisDisconnected-wrong-receiver", test_redis_disconnected,
         Breakage.routing(replace("- receiver: pagerduty\n", "- receiver: engineering-manager\n"),
                          "critical alerts routed to the engineering manager instead of PagerDuty"),
         NotificationMissing, "pagerduty got no notification"),
    Case("RedisDisconnected-remediation-restarts-backend", test_redis_disconnected,
         Breakage.runbook(replace("docker compose -f docker-compose.test.yml restart redis",
                                  "docker compose -f docker-compose.test.yml restart backend", count=-1),
                          "the runbook restarts the backend, which does not bring a dead Redis back"),
         AlertNotResolved, "RedisDisconnected kept firing"),
    # The runbook's other action for the same alert, drilled in its own situation (the container gone).
    Case("RedisDisconnected-container-gone-action-restarts-the-backend", test_redis_disconnected,
         Breakage.runbook(replace("docker compose -f docker-compose.test.yml up -d redis",
                                  "docker compose -f docker-compose.test.yml restart backend"),
                          "the 'container gone' action restarts the backend, which cannot create Redis"),
         AlertNotResolved, "RedisDisconnected kept firing", {"situation": "container_gone"}),
    # Two promises broken at once, and the failure names both: the one that stopped the drill (the cause
    # stayed) and what the recorded notices show (someone paged who should not be).
    Case("RedisDisconnected-manager-paged-and-remediation-restarts-backend", test_redis_disconnected,
         Breakage.both(
             Breakage.routing(replace('    - severity="critical"\n    - revenue_impact="true"\n',
                                      '    - severity="critical"\n'),
                              "the engineering manager is paged for every critical alert, revenue or not"),
             Breakage.runbook(replace("docker compose -f docker-compose.test.yml restart redis",
                                      "docker compose -f docker-compose.test.yml restart backend", count=-1),
                              "the runbook restarts the backend, which does not bring a dead Redis back")),
         AlertNotResolved, r"RedisDisconnected kept firing(.|\n)*also broken: RedisDisconnected also reached "
                           r"\['engineering-manager'\]"),
    Case("RedisDisconnected-page-delayed-on-a-child-route", test_redis_disconnected,
         Breakage.routing(replace("  - receiver: pagerduty\n", "  - receiver: pagerduty\n    group_wait: 15s\n"),
                          "the PagerDuty route waits 15 s (7.5 minutes in production) before the first page"),
         # Late is missing at the deadline: the drill does not wait past the runbook's promise for the page.
         NotificationMissing, "pagerduty got no notification within .* of its condition holding "
                              "\\(the runbook's deadline\\)|pagerduty .* later than the runbook promises"),
    # Too early is broken as much as too late: without its `for` the alert pages on a one-scrape blip.
    Case("RedisDisconnected-for-removed", test_redis_disconnected,
         Breakage.rules(_without_for("RedisDisconnected"), "RedisDisconnected without its `for`: it fires at once"),
         AlertNotFired, r"RedisDisconnected fired .*s after its condition began to hold, sooner than the "
                        r"runbook's `for`"),
    # Late on the way back is broken too: the resolved notice is due scrape + evaluation + the runbook's
    # group_interval after the value is healthy again, whatever the config under test says.
    Case("RedisDisconnected-keeps-firing-after-its-condition", test_redis_disconnected,
         Breakage.rules(in_rule("RedisDisconnected", "    for: 2s\n", "    for: 2s\n    keep_firing_for: 20s\n"),
                        "keep_firing_for: 10m (20 s at x30): the page stays up after Redis is back"),
         NotificationLate, r"resolved notice reached .* after the watched value was healthy again"),
    Case("RedisDisconnected-group-interval-quadrupled", test_redis_disconnected,
         Breakage.routing(replace("  group_interval: 10s\n", "  group_interval: 40s\n"),
                          "group_interval 5m -> 20m: the resolved notice comes up to 20 minutes late"),
         NotificationLate, r"resolved notice reached .* later than the runbook promises"),
    # The runbook and the rule disagree on the threshold: the alert fires on a value the runbook calls healthy.
    Case("RedisDisconnected-runbook-threshold-drifted", test_redis_disconnected,
         Breakage.runbook(replace("| `== 0` | | `1m` |", "| `< 0` | | `1m` |"),
                          "the runbook's threshold edited away from the rule's"),
         AlertNotFired, r"never met the runbook's condition \(< 0\)"),
    Case("RedisDisconnected-runbook-link-to-another-document", test_redis_disconnected,
         Breakage.rules(in_rule("RedisDisconnected", "docs/runbook.md#", "docs/runbook-2025.md#"),
                        "the page links the right anchor of an old copy of the runbook"),
         NotificationMissing, r"runbook_url \S+runbook-2025.md#redisdisconnected leads to \S+, not to the runbook "
                              r"docs/runbook.md"),
    Case("RedisDisconnected-second-rule-pages-too", test_redis_disconnected,
         Breakage.rules(replace("  - alert: RedisDisconnected\n",
                                "  - alert: RedisFlapping\n    expr: redis_connected == 0\n    for: 1s\n"
                                "    labels:\n      severity: warning\n  - alert: RedisDisconnected\n"),
                        "a new warning rule on the same symptom notifies on-call a second time"),
         UnexpectedAlert, "warning alert RedisFlapping"),
    # What the person on call receives (the runbook's Receivers table), each through production's own
    # integrations and templates, delivered to receivers that refuse what the real services refuse.
    Case("RedisDisconnected-routing-key-of-another-service", test_redis_disconnected,
         Breakage.routing(replace("routing_key_file: /etc/alertmanager/src/secrets/pagerduty-routing-key",
                                  "routing_key: 0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
                          "pages go to another team's PagerDuty service"),
         NotificationMissing, r"Alertmanager failed \d+ pagerduty notification"),
    Case("RedisDisconnected-slack-channel-typo", test_redis_disconnected,
         Breakage.routing(replace("channel: '#oncall-alerts'", "channel: '#oncal-alerts'"), "#oncal-alerts"),
         NotificationMissing, r"Alertmanager failed \d+ slack notification(.|\n)*channel_not_found"),
    Case("RedisDisconnected-template-reads-a-missing-annotation", test_redis_disconnected,
         Breakage.template(replace(".Annotations.summary", ".Annotations.sumary"),
                           "the notices' headline reads an annotation no rule has: it renders empty"),
         NotificationMissing, r"the summary .* is not shown"),
    Case("RedisDisconnected-template-calls-a-missing-template", test_redis_disconnected,
         Breakage.template(replace('{{ template "oncall.what" . }}{{ end }}\n\n{{ define "oncall.alert_list" }}',
                                   '{{ template "oncall.wat" . }}{{ end }}\n\n{{ define "oncall.alert_list" }}'),
                           "the summary template calls one that does not exist: every notice using it fails"),
         NotificationMissing, r"Alertmanager failed \d+ (pagerduty|email|slack) notification"),
    Case("RedisDisconnected-pagerduty-never-resolves", test_redis_disconnected,
         Breakage.routing(replace("pagerduty-routing-key\n    send_resolved: true", "pagerduty-routing-key\n"
                                  "    send_resolved: false"), "PagerDuty incidents stay open"),
         AlertNotResolved, r"resolved notice did not reach \['pagerduty by pagerduty'\]"),
    Case("RedisDisconnected-mail-to-the-wrong-address", test_redis_disconnected,
         Breakage.routing(replace("to: oncall@example.com", "to: oncall@example.org"), "mail to example.org"),
         NotificationMissing, r"pagerduty: no email notice"),
    # API health.
    Case("HighAPILatency-threshold-moved", test_high_api_latency,
         Breakage.rules(in_rule("HighAPILatency", ") > 1", ") > 30"), "1 s moved to 30 s"),
         AlertNotFired, "HighAPILatency did not fire within"),
    Case("HighAPILatency-one-route-routed-elsewhere", test_high_api_latency,
         Breakage.routing(replace("  - receiver: slack-oncall-alerts\ninhibit_rules:",
                                  "  - receiver: engineering-manager\n    matchers:\n    - route=\"/devices\"\n"
                                  "  - receiver: slack-oncall-alerts\ninhibit_rules:"),
                          "alerts of /devices go to the engineering manager instead of #oncall-alerts"),
         InvestigationFailed, r"HighAPILatency \{'route': '/devices'\} did not reach \['slack-oncall-alerts'\]"),
    Case("CriticalAPILatency-inhibition-removed", test_critical_api_latency,
         Breakage.routing(drop_between('- source_matchers:\n  - alertname="CriticalAPILatency"', "- source_matchers:"),
                          "the warning twin is no longer silenced while CriticalAPILatency fires"),
         (InvestigationFailed, InvariantViolated), "not inhibited|reached a receiver"),
    Case("CriticalErrorRate-inhibition-matches-nothing", test_critical_error_rate,
         Breakage.routing(replace('alertname="HighErrorRate"', 'alertname="HighErrorRates"'),
                          "the inhibit rule's target matcher names no alert: the warning twin is sent too"),
         (InvestigationFailed, InvariantViolated), "not inhibited|reached a receiver"),
    # The inhibition widened: `equal: [route]`, a label neither alert has, silences every endpoint's warning.
    Case("CriticalErrorRate-inhibition-widened-to-every-endpoint", test_critical_error_rate,
         Breakage.routing(replace("  equal:\n  - endpoint\n", "  equal:\n  - route\n"),
                          "the error-rate inhibition's equal is [route]: one endpoint's critical silences all"),
         InvestigationFailed, r"HighErrorRate \{'endpoint': '/devices'\} did not reach \['slack-oncall-alerts'\]"),
    Case("HighErrorRate-warning-to-pagerduty", test_high_error_rate,
         Breakage.routing(_last_slack_route_to_pagerduty, "the catch-all warning route pages instead"),
         NotificationMissing, "slack-oncall-alerts got no notification"),
    Case("CriticalErrorRate-demoted", test_critical_error_rate,
         Breakage.rules(in_rule("CriticalErrorRate", "severity: critical", "severity: warning"), "nobody paged"),
         AlertNotFired, "CriticalErrorRate (fired|is pending) with the wrong labels"),
    Case("DatabaseConnectionPoolExhausted-remediation-kills-nothing", test_database_connection_pool_exhausted,
         Breakage.runbook(replace("interval '30 seconds'", "interval '30 minutes'", count=-1),
                          "the terminate step only targets queries older than 30 minutes"),
         AlertNotResolved, "DatabaseConnectionPoolExhausted kept firing"),
    # Business.
    Case("SignalIngestionStopped-manager-route-dropped", test_signal_ingestion_stopped,
         Breakage.routing(drop_between("  - receiver: engineering-manager\n", "  - receiver:"),
                          "revenue-impacting pages no longer reach the engineering manager"),
         NotificationMissing, "engineering-manager got no notification"),
    Case("PaymentWebhookFailures-threshold-moved", test_payment_webhook_failures,
         Breakage.rules(in_rule("PaymentWebhookFailures", "> 0.1", "> 100"), "replays must pass 100/s"),
         AlertNotFired, "PaymentWebhookFailures did not fire within", {"fault": "replay"}),
    Case("EAPollErrors-threshold-moved", test_ea_poll_errors,
         Breakage.rules(in_rule("EAPollErrors", "> 0.5", "> 50"), "0.5 errors/s moved to 50"),
         AlertNotFired, "EAPollErrors did not fire within"),
    # A warning promoted to critical would page people at night for a signal-quality trend. (Not a
    # mutation of its remediation: at x30 the rejection ratio over a 10 s window holds ~10 decisions, so
    # the alert can go inactive by chance and hide a remediation that did nothing.)
    Case("HighApprovalRejectionRate-severity-raised", test_high_approval_rejection_rate,
         Breakage.rules(in_rule("HighApprovalRejectionRate", "severity: warning", "severity: critical"),
                        "a quality trend would page"),
         AlertNotFired, "HighApprovalRejectionRate (fired|is pending) with the wrong labels"),
    # A remediation that exits 0 and changes nothing, on the noisiest signal of all (about ten decisions per
    # window at x30): "resolved" must last a whole `for`, so a lucky dip under 70 % is not a recovery.
    Case("HighApprovalRejectionRate-remediation-filters-nothing", test_high_approval_rejection_rate,
         Breakage.runbook(replace("MIN_SIGNAL_QUALITY=0.5", "MIN_SIGNAL_QUALITY=0.0", count=-1),
                          "the filter lets every low-quality signal through"),
         AlertNotResolved, "HighApprovalRejectionRate (kept firing|came back)"),
    # What must not page (the quiet drills): each breakage makes benign noise speak, and the quiet drill
    # that would hear it names it.
    Case("quiet-hang-ups-counted-as-errors", test_quiet_hang_ups,
         Breakage.rules(in_rule("CriticalErrorRate", "rate(errors_total[",
                                'rate({__name__=~"errors_total|client_disconnects_total"}['),
                        "client disconnects counted as server errors again"),
         FalseAlarm, r"CriticalErrorRate.*(firing|fired|went pending)"),
    Case("quiet-rejections-for-removed", test_quiet_rejections,
         Breakage.rules(_without_for("HighApprovalRejectionRate"),
                        "HighApprovalRejectionRate without its `for`: it fires on a blip"),
         FalseAlarm, r"HighApprovalRejectionRate.*(firing|fired)"),
    Case("quiet-crawler-4xx-counted-as-errors", test_quiet_crawler,
         Breakage.rules(in_rule("HighErrorRate", "rate(errors_total[", 'rate(http_requests_total{status=~"4..|5.."}['),
                        "HighErrorRate counts client errors (4xx) as errors"),
         FalseAlarm, r"HighErrorRate.*(firing|fired)"),
    Case("HighRateLimitRejections-route-dropped", test_high_rate_limit_rejections,
         Breakage.rules(in_rule("HighRateLimitRejections", " by (route)", ""), "the alert no longer names the route"),
         AlertNotFired, "HighRateLimitRejections did not fire within"),
]


def _longest_first(cases: list[Case]) -> list[Case]:
    """The rows that must go through the remediation first (the alert fires, then the drill waits out the
    cause deadline: 50-110 s at x30), the rest in table order: with two lanes, a long row left for last
    kept one lane busy for a minute and more after the other had run out of rows."""
    return sorted(cases, key=lambda c: c.error is not AlertNotResolved)


@pytest.mark.parametrize("case", _longest_first(CASES), ids=lambda c: c.id)
def test_broken_alerting_fails_the_drill(drill, drill_context, case: Case):
    with case.breakage.applied(drill_context) as ctx:
        with pytest.raises(case.error, match=case.message):
            drill(case.scenario.run, case.scenario.EXPECTATION, ctx=ctx, **case.options)
