"""HighApprovalRejectionRate (warning): the signal generator's quality drops.

The generator switches to its degraded regime (about 89 % of its signals below 0.5 quality) and the
traders reviewing the newest signals (locustfiles/reviewers.py: approve at quality >= 0.5, else reject)
reject far more than 70 %. Remediation: the runbook's "filter out low-quality signals before they reach
users" (MIN_SIGNAL_QUALITY=0.5 in the generator's .env, restart it). Recovery: the rejection ratio falls
and the alert resolves.
"""
from __future__ import annotations

import pytest

from alertdrill.engine.drill import AlertExpectation
from alertdrill.engine.evidence import runbook_query, top_label
from alertdrill.engine.faults import EnvFileEdit
from alertdrill.load.locust import LocustLoad
from alertdrill.engine.remediations import RunbookAction

from scenarios._common import SLACK

pytestmark = pytest.mark.drill

HIGH_APPROVAL_REJECTION_RATE = AlertExpectation(
    alertname="HighApprovalRejectionRate",
    severity="warning",
    receivers=SLACK,
    watch='sum(rate(approvals_total{result="rejected"}[10s])) / sum(rate(approvals_total[10s]))',
    threshold="> 0.7",
    side_effects={
        # Compressed time only: the filter passes ~11 % of a degraded generator's signals (about one in
        # 9 s), and 10 minutes of silence become 20 s at x30, which such a trickle can leave empty.
        "SignalIngestionStopped": "the filter drops most of a degraded generator's signals",
    },
)


def run(drill, ctx, runbook) -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    with drill(HIGH_APPROVAL_REJECTION_RATE) as d:
        d.steady_state()
        # Two reviewers deciding among the five newest pending signals, about one decision a second in all.
        d.workload(LocustLoad("locustfiles/reviewers.py", host=ctx.endpoints.backend, users=2, spawn_rate=2,
                              run_time=400, name="reviewers",
                              env={"REVIEW_WAIT": "2", "REVIEW_BATCH": "1", "REVIEW_QUEUE": "5"}), warmup=12)
        d.inject(EnvFileEdit("signal-generator", "signal_generator/.env", {"SIGNAL_QUALITY_MODE": "degraded"},
                             ctx.stack, ctx.docker))
        d.expect_firing()
        d.investigate("approvals by result: rejections dominate", lambda: top_label(
            ctx.prometheus, runbook_query(runbook, "HighApprovalRejectionRate", "approvals_total", ctx.factor), "result", "rejected"))
        d.remediate(RunbookAction(runbook, "HighApprovalRejectionRate", "filter out low-quality", ctx.stack))
        d.expect_resolved()


def test_HighApprovalRejectionRate(drill, drill_context, drill_settings):
    run(drill, drill_context, drill_settings.runbook)
