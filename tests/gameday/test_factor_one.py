"""RedisDisconnected at factor 1 (production timings: `for` 1m, group_wait 30s, about 92 s to fire)
against the running stack, made to load the x1 drill copy the way `--reuse-stack` does (Prometheus and
Alertmanager recreated with it, the loaded `for` durations checked against the timing model), and put
back to the session's factor afterwards.

It waits for the alert to fire and page, runs the runbook's remediation and waits for the alert to
resolve in Prometheus and Alertmanager; it does not wait for the resolved notice, which at production
timings comes at Alertmanager's next group_interval flush (up to 5 minutes later): the resolved
notices and their routing are what the x30 drills check (see README, "A gameday, start to finish")."""
from __future__ import annotations

import copy

import pytest

from alertdrill.alerting.drillconfig import render_drill_config
from alertdrill.engine.faults import KillContainer
from alertdrill.engine.remediations import RunbookAction
from alertdrill.errors import AlertNotResolved
from alertdrill.target.reuse import load_drill_config
from alertdrill.target.stack import Stack
from alertdrill.wait import until

from scenarios import test_redis_disconnected as redis_drill

pytestmark = pytest.mark.drill

RESOLVE_S = 90.0  # Redis restarted, the backend reconnected, one evaluation: seconds at any factor


@pytest.fixture
def production_timings(drill_context, drill_config, drill_settings):
    """The session's context at factor 1, on the same running stack; the session's factor put back after."""
    if drill_settings.factor == 1:
        yield drill_context
        return
    cfg = render_drill_config(1)
    stack = Stack(cfg.env)  # its compose env file now names the x1 copy
    ctx = copy.copy(drill_context)
    ctx.stack, ctx.timings = stack, cfg.timings
    try:
        for line in load_drill_config(stack, cfg):
            ctx.reporter(f"alertdrill: x1: {line}")
        yield ctx
    finally:
        stack.close()
        back = Stack(drill_config.env)
        try:
            for line in load_drill_config(back, drill_config):
                ctx.reporter(f"alertdrill: back to {drill_config.timings.label}: {line}")
        finally:
            back.close()


def run_at_production_timings(d, ctx) -> None:
    d.steady_state()
    d.inject(KillContainer("redis"))
    d.expect_firing()
    d.investigate("redis is down (docker ps, redis-cli ping)", lambda: redis_drill.redis_is_down(ctx))
    d.remediate(RunbookAction("RedisDisconnected", "stopped or crashed"))
    with d.phase("RedisDisconnected resolves (Prometheus and Alertmanager)"):
        def gone() -> bool:
            return d.mitigated() and not d.obs.alert_states() and not any(
                a["labels"].get("alertname") == "RedisDisconnected" for a in ctx.alertmanager.alerts())

        def fail() -> None:
            raise AlertNotResolved(f"RedisDisconnected still active {RESOLVE_S:g}s after the remediation",
                                   expected="inactive in Prometheus and Alertmanager", seen=d.obs.situation(),
                                   hint="did the runbook's restart bring Redis back?")

        until(gone, RESOLVE_S, poll=d.POLL, on_timeout=fail)
        d.mark("resolved")


def test_RedisDisconnected_at_production_timings(drill, production_timings):
    d = drill(run_at_production_timings, redis_drill.EXPECTATION, ctx=production_timings)
    t = d.timeline
    assert t.factor == 1 and t.fire_floor == production_timings.timings.fire_floor_s("RedisDisconnected") == 92
    assert t.outcome == "passed" and t.time_to_fire is not None and t.time_to_mitigate is not None
