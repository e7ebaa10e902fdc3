"""HighApprovalRejectionRate (warning): the signal generator's quality drops.

The generator switches to its degraded regime (about 96 % of its signals below 0.5 quality) and the
traders reviewing the newest signals (locustfiles/reviewers.py: approve at quality >= 0.5, else reject)
reject far more than 70 %. The runbook has two actions for it, and each is drilled:
- [poor_market] a market regime that really is poor: "filter out low-quality signals before they reach
  users" (MIN_SIGNAL_QUALITY=0.5 in the generator's .env, restart it);
- [degraded_mode] the generator left in its degraded mode: "set it back to normal and restart it".
Recovery: the rejection ratio falls and the alert resolves.
"""
from __future__ import annotations

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import runbook_query, top_label
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import EnvFileEdit
from alertdrill.engine.remediations import RunbookAction
from alertdrill.load.locust import LocustLoad

pytestmark = pytest.mark.drill

EXPECTATION = AlertExpectation.from_runbook(
    "HighApprovalRejectionRate",
    watch='sum(rate(approvals_total{result="rejected"}[5m])) / sum(rate(approvals_total[5m]))',
    side_effects={
        # Compressed time only: the filter passes ~4 % of a degraded generator's signals (about one in
        # 29 s), and 10 minutes of silence become 20 s at x30, which such a trickle can leave empty.
        "SignalIngestionStopped": "the filter drops most of a degraded generator's signals",
    },
)


def reviewers_see_a_degraded_generator(d: Drill, ctx: DrillContext) -> None:
    d.steady_state()
    # Three reviewers deciding the fresh signals (at most 5 s old, the five newest), one each at a time:
    # every signal the generator makes (one a second) is decided once. Stale ones are skipped, as traders
    # skip a stale trading signal: otherwise the degraded signals left pending when the filter goes in
    # are still being rejected seconds later, and the ratio over the compressed 10 s window comes back
    # over 70 % after it first resolves (found by two drill lanes: "came back (pending)").
    d.workload(LocustLoad("locustfiles/reviewers.py", host=ctx.endpoints.backend, users=3, spawn_rate=3,
                          run_time=400, name="reviewers",
                          env={"REVIEW_WAIT": "2", "REVIEW_BATCH": "1", "REVIEW_QUEUE": "5",
                               "REVIEW_MAX_AGE": "5"}), warmup=12)
    d.inject(EnvFileEdit("signal-generator", "signal_generator/.env", {"SIGNAL_QUALITY_MODE": "degraded"}))
    d.expect_firing()
    d.investigate("approvals by result: rejections dominate", lambda: top_label(
        ctx.prometheus, runbook_query(ctx, "HighApprovalRejectionRate", "approvals_total"), "result", "rejected"))


def poor_market(d: Drill, ctx: DrillContext) -> None:
    reviewers_see_a_degraded_generator(d, ctx)
    d.remediate(RunbookAction("HighApprovalRejectionRate", "filter out low-quality"))
    d.expect_resolved()


def degraded_mode(d: Drill, ctx: DrillContext) -> None:
    reviewers_see_a_degraded_generator(d, ctx)
    d.remediate(RunbookAction("HighApprovalRejectionRate", "set it back to normal"))
    d.expect_resolved()


SITUATIONS = {"poor_market": poor_market, "degraded_mode": degraded_mode}  # the runbook's two actions


def run(d: Drill, ctx: DrillContext, situation: str = "poor_market") -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    SITUATIONS[situation](d, ctx)


@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_HighApprovalRejectionRate(drill, situation):
    drill(run, EXPECTATION, situation=situation)
