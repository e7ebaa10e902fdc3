"""RedisDisconnected (critical): Redis dies; sessions and replay protection go with it.

Runbook: check the Redis process (`docker ps | grep redis`), its connectivity (`redis-cli ping`);
remediation "Redis crashed: `docker-compose restart redis`".
"""
from __future__ import annotations

import subprocess
import time

import pytest

from alertdrill.engine.drill import AlertExpectation, require
from alertdrill.engine.faults import KillContainer
from alertdrill.engine.invariants import acks_exactly_once, signals_stored_since, webhooks_exactly_once
from alertdrill.engine.remediations import Remediation, RunbookAction
from alertdrill.load.traffic import CustomerTraffic

pytestmark = pytest.mark.drill

REDIS_DISCONNECTED = AlertExpectation(
    alertname="RedisDisconnected",
    severity="critical",
    receivers=frozenset({"pagerduty", "slack-oncall-alerts"}),
    watch="min(redis_connected)",
    threshold="== 0",
)


def redis_is_down() -> str:
    """Runbook step 1-2: `docker ps | grep redis` and `docker exec redis redis-cli ping`."""
    ps = subprocess.run("docker ps --filter name=^redis$ --format '{{.Names}} {{.Status}}'", shell=True,
                        capture_output=True, text=True).stdout.strip()
    ping = subprocess.run(["docker", "exec", "redis", "redis-cli", "ping"], capture_output=True, text=True)
    require("PONG" not in ping.stdout, "Redis still answers PING although the alert fired",
            expected="no PONG from redis-cli ping", seen=f"docker ps: {ps or 'no redis container running'}; "
            f"ping: {ping.stdout.strip() or ping.stderr.strip()}")
    return f"docker ps: {ps or 'redis not running'}; redis-cli ping: {(ping.stderr or ping.stdout).strip()[:80]}"


def runbook_restart(ctx, runbook) -> RunbookAction:
    """Runbook, remediation "Redis stopped or crashed: restart it"."""
    return RunbookAction(runbook, "RedisDisconnected", "restart redis", ctx.stack)


def run_redis_drill(drill, drill_context, runbook, remediation: Remediation | None = None):
    ctx = drill_context
    ep = ctx.endpoints
    expectation = REDIS_DISCONNECTED
    with drill(expectation) as d:
        d.steady_state()
        traffic = CustomerTraffic(ep.backend).start()
        try:
            began = time.time()
            d.inject(KillContainer("redis", ctx.stack, ctx.docker))
            d.expect_firing()
            d.investigate("redis is down (docker ps, redis-cli ping)", redis_is_down)
            d.remediate(remediation or runbook_restart(ctx, runbook))
            d.expect_resolved()
        finally:
            traffic.stop()
        traffic.drain()
        d.steady_state()
        d.invariant("every generated signal stored exactly once", lambda: signals_stored_since(ep.generator, ep.postgres_dsn, began))
        d.invariant("every payment webhook processed exactly once", lambda: webhooks_exactly_once(traffic.log, ep.postgres_dsn))
        d.invariant("every EA ack applied exactly once",
                    lambda: acks_exactly_once(traffic.log, traffic.device.device_id, ep.postgres_dsn))
    return d


def test_RedisDisconnected(drill, drill_context, drill_settings):
    run_redis_drill(drill, drill_context, drill_settings.runbook)
