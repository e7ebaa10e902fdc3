"""RedisDisconnected (critical): Redis dies; sessions and replay protection go with it.

Runbook: check the Redis process (`docker ps | grep redis`), its connectivity (`redis-cli ping`); then
the remediation for what happened, each drilled in its own situation:
- crashed: Redis killed; "Redis stopped or crashed: `docker compose restart redis`";
- container_gone: the container removed; "Redis container gone: `docker compose up -d redis`" (a
  restart cannot bring back a container that no longer exists).
Invariants: customer traffic kept flowing through the outage loses nothing (signals, payments, EA
acknowledgements each stored exactly once).
"""
from __future__ import annotations

import time

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import runbook_command
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import KillContainer, RemoveContainer
from alertdrill.engine.remediations import RunbookAction
from alertdrill.errors import require_evidence

from scenarios._common import ps_row
from scenarios.platform.client import generator_url
from scenarios.platform.invariants import acks_exactly_once, signals_stored_since, webhooks_exactly_once
from scenarios.platform.traffic import CustomerTraffic

pytestmark = pytest.mark.drill

EXPECTATION = AlertExpectation.from_runbook(
    "RedisDisconnected",
    watch="min(redis_connected)",
    side_effects={
        # Payment webhooks (idempotency keys) and EA requests (nonces) cannot be served safely without
        # Redis: they answer 503, and the customer traffic kept up through the outage counts them.
        "HighErrorRate": "webhook and EA requests answer 503 while Redis is gone",
    },
)


def redis_is_down(ctx: DrillContext) -> str:
    """Runbook investigation 1-2, run as written: `docker ps -a --filter name=redis` and
    `docker exec redis redis-cli ping`."""
    ps = runbook_command(ctx, "RedisDisconnected", "docker ps")
    ping = runbook_command(ctx, "RedisDisconnected", "redis-cli ping")
    require_evidence("PONG" not in ping, "Redis still answers PING although the alert fired",
                     expected="no PONG from redis-cli ping", seen=f"docker ps: {ps}\nping: {ping}")
    state = ps_row(ctx, ps, "redis") or "no redis container"
    return f"docker ps: {' '.join(state.split()[4:])[-80:]}; redis-cli ping: {ping[:80]}"


def crashed(d: Drill, ctx: DrillContext) -> None:
    traffic, began = before_the_fault(d, ctx)
    d.inject(KillContainer("redis"))
    fires_and_redis_is_down(d, ctx)
    d.remediate(RunbookAction("RedisDisconnected", "stopped or crashed"))
    recovers_and_nothing_is_lost(d, ctx, traffic, began)


def container_gone(d: Drill, ctx: DrillContext) -> None:
    traffic, began = before_the_fault(d, ctx)
    d.inject(RemoveContainer("redis"))
    fires_and_redis_is_down(d, ctx)
    d.remediate(RunbookAction("RedisDisconnected", "container gone"))
    recovers_and_nothing_is_lost(d, ctx, traffic, began)


def before_the_fault(d: Drill, ctx: DrillContext) -> tuple[CustomerTraffic, float]:
    d.steady_state()
    return d.alongside(CustomerTraffic(ctx.endpoints.backend).start()), time.time()


def fires_and_redis_is_down(d: Drill, ctx: DrillContext) -> None:
    d.expect_firing()
    d.investigate("redis is down (docker ps, redis-cli ping)", lambda: redis_is_down(ctx))


def recovers_and_nothing_is_lost(d: Drill, ctx: DrillContext, traffic: CustomerTraffic, began: float) -> None:
    ep = ctx.endpoints
    d.expect_resolved()
    d.end(traffic)
    traffic.drain()
    d.steady_state()
    d.invariant("every generated signal stored exactly once",
                lambda: signals_stored_since(generator_url(ep), ep.postgres_dsn, began))
    d.invariant("every payment webhook processed exactly once",
                lambda: webhooks_exactly_once(traffic.log, ep.postgres_dsn))
    d.invariant("every EA ack applied exactly once",
                lambda: acks_exactly_once(traffic.log, traffic.device.device_id, ep.postgres_dsn))


SITUATIONS = {"crashed": crashed, "container_gone": container_gone}  # the runbook's two actions


def run(d: Drill, ctx: DrillContext, situation: str = "crashed") -> None:
    SITUATIONS[situation](d, ctx)


@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_RedisDisconnected(drill, situation):
    drill(run, EXPECTATION, situation=situation)
