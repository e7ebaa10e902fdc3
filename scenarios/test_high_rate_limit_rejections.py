"""HighRateLimitRejections (warning): one client address floods a route.

A scraper at 127.0.0.66 (its own loopback source address; the backend knows clients by their peer
address and trusts no X-Forwarded-For in the reference stack) hammers /api/v1/signals at 30 requests/s against a limit of 120 per minute: the limiter blocks ~28/s. Runbook:
the per-route query and the rate_limit log lines name the route and the address; remediation "add the
abusive address to the denylist" (read live, no restart). Other clients are served throughout.

A second route shows the promise holds for every route: the same address also lists devices (GET /devices)
at 15 requests/s, 13/s over its own budget there, and that route's HighRateLimitRejections must reach the
runbook's receivers like /signals'. The denylist stops both.
"""
from __future__ import annotations

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import logs_show, reached_for, runbook_query, top_label, wait_for
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import LoadFault
from alertdrill.engine.guards import EnvFileGuard
from alertdrill.engine.remediations import RunbookAction
from alertdrill.errors import require
from alertdrill.load.locust import LocustLoad

from scenarios._common import device_listings

pytestmark = pytest.mark.drill

ROUTE = "/signals"
ABUSER = "127.0.0.66"
SECOND = "/devices"  # the abuser's second route: a limit of its own, an alert routed like /signals'
EXPECTATION = AlertExpectation.from_runbook(
    "HighRateLimitRejections",
    instance={"route": ROUTE},
    watch=f'sum(rate(ratelimit_block_total{{route="{ROUTE}"}}[5m]))',
)


def run(d: Drill, ctx: DrillContext) -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    d.steady_state()
    flood = LocustLoad("locustfiles/flood.py", host=ctx.endpoints.backend, users=3, spawn_rate=3, run_time=300,
                       env={"FLOOD_IP": ABUSER, "FLOOD_PATH": "/api/v1/signals?limit=5", "FLOOD_RPS": "30",
                            "NORMAL_RPS": "1"}, name="flood")
    d.inject(LoadFault(flood, f"locust flood.py: one client at 30 req/s from {ABUSER} and two ordinary "
                              f"clients at 1 req/s each on {ROUTE}"))
    began = d.timeline.last("injected").at
    second = d.alongside(device_listings(ctx, per_second=15, source_address=ABUSER))
    d.expect_firing()
    d.investigate("HighRateLimitRejections of /devices reaches its receivers too (every route is routed alike)",
                  lambda: wait_for(lambda: reached_for(ctx, "HighRateLimitRejections", {"route": SECOND}, began),
                                   ctx.timings.fire_deadline_s("HighRateLimitRejections")))
    d.end(second)
    d.investigate("the per-route query names /signals", lambda: top_label(
        ctx.prometheus, runbook_query(ctx, "HighRateLimitRejections", "ratelimit_block_total"), "route", ROUTE))
    d.investigate("the rate_limit log lines name the address", lambda: wait_for(
        lambda: logs_show(ctx, "backend", began, "rate_limit", f"ip={ABUSER}"), 10))
    d.guard(EnvFileGuard("backend", "backend/denylist.txt"))
    d.remediate(RunbookAction("HighRateLimitRejections", "denylist", env={"ABUSIVE_IP": ABUSER}))
    d.expect_resolved()
    stats = flood.stop()
    normal = [n for n in stats.names if n.startswith("[normal]")]
    require(normal and all(stats.failures(n) == 0 and stats.requests(n) > 0 for n in normal),
            "other clients were not served throughout the flood", expected="[normal] requests, 0 failures",
            seen=stats.summary())
    d.invariant("other clients were served throughout",
                lambda: ", ".join(f"{n}: {stats.requests(n)} requests, 0 failures" for n in normal))


def test_HighRateLimitRejections(drill):
    drill(run, EXPECTATION)
