"""Quiet: a traffic spike the platform has the capacity for.

From no traffic to sixteen traders with the dashboard open, each refreshing twice a second (about 30
requests a second over the signal list, the approval queue and the market prices), arriving over eight
seconds: a market open. The latency, pool, error and rate-limit alerts have nothing to say; every
request is answered.

Sized for the capacity this stack has where it is drilled: two cores shared with a second lane's stack
and its load. Twenty traders logging in within four seconds (an scrypt hash each) took a route's p95
past 1 s there when the other lane was busy, and HighAPILatency rightly fired: that spike was beyond
capacity, not benign.
"""
from __future__ import annotations

import pytest

from alertdrill.engine.quiet import QuietDrill, QuietExpectation
from alertdrill.errors import require

from scenarios._common import dashboard_load
from scenarios._quiet import SERVER_ERRORS

pytestmark = pytest.mark.drill

EXPECTATION = QuietExpectation(
    noise="a traffic spike within capacity: 16 traders on the dashboard",
    touches=("HighAPILatency", "CriticalAPILatency", "DatabaseConnectionPoolExhausted", "HighErrorRate",
             "CriticalErrorRate", "HighRateLimitRejections"),
    unmoved=SERVER_ERRORS,
)


def run(d: QuietDrill, ctx) -> None:
    d.steady_state()
    with d.quiet():
        d.workload(dashboard_load(ctx, users=16, tasks="signals,approvals,market", wait=0.5, name="spike",
                                  arrive_over=8.0))
    stats = d.stop_workload()["spike"]
    d.invariant("every request of the spike was answered", lambda: all_answered(stats))


def all_answered(stats) -> str:
    requests, failures = stats.requests(), stats.failures()
    require(requests > 0 and failures == 0, "the spike was not served in full",
            expected="every request answered 200", seen=f"{requests} requests, {failures} failed: {stats.errors[:3]}",
            hint=f"see {stats.log_path}")
    return f"{requests} requests, none failed"


def test_quiet_spike(drill):
    drill(run, EXPECTATION)
