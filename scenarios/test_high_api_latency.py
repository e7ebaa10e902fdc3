"""HighAPILatency (warning): the connection pool starves under load.

The pool is small (DB_POOL_SIZE=2) and Postgres slows down (250 ms per round trip through Toxiproxy):
requests queue for a connection and p95 on /signals climbs past 1 s, but stays under 5 s.
Runbook: top slow endpoints and the pool figures point at the starving route; remediation
"Connection pool saturated: raise the pool and restart the backend" (DB_POOL_SIZE=50 in backend/.env).
"""
from __future__ import annotations

import time

import pytest

from alertdrill.engine.drill import AlertExpectation, require
from alertdrill.engine.evidence import runbook_query, top_label, value_above, wait_for
from alertdrill.engine.faults import EnvFileEdit, Toxic
from alertdrill.engine.invariants import signals_stored_since
from alertdrill.engine.remediations import RunbookAction

from scenarios._common import SLACK, dashboard_load, never_fired, signal_list_served

pytestmark = pytest.mark.drill

ROUTE = "/signals"
HIGH_API_LATENCY = AlertExpectation(
    alertname="HighAPILatency",
    severity="warning",
    receivers=SLACK,
    labels={"route": ROUTE},
    watch=f'histogram_quantile(0.95, sum(rate(request_duration_seconds_bucket{{route="{ROUTE}"}}[10s])) by (le))',
    threshold="> 1",
    side_effects={
        # The starving pool is the cause: every one of its 2 connections is in use.
        "DatabaseConnectionPoolExhausted": "the pool of 2 is fully used while requests queue for it",
    },
)


def run(drill, ctx, runbook) -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    with drill(HIGH_API_LATENCY) as d:
        d.steady_state()
        began = time.time()
        d.inject(EnvFileEdit("backend", "backend/.env", {"DB_POOL_SIZE": "2"}, ctx.stack, ctx.docker))
        # Twelve traders refreshing the signal list: a closed loop, so the queue stays bounded.
        d.workload(dashboard_load(ctx, users=12, tasks="signals", wait=0.2), warmup=12)
        d.inject(Toxic("postgres", "latency", {"latency": 250, "jitter": 25}, ctx.toxiproxy))
        d.expect_firing()
        # Every route that needs a connection starves (/signals, /auth/login, /ready): /signals is among them.
        d.investigate("/signals is among the top slow endpoints", lambda: top_label(
            ctx.prometheus, runbook_query(runbook, "HighAPILatency", "request_duration_seconds", ctx.factor), "route", ROUTE,
            within=3, above=1.0))
        d.investigate("the pool is saturated", lambda: wait_for(lambda: value_above(
            ctx.prometheus, runbook_query(runbook, "HighAPILatency", "db_connection_pool_size", ctx.factor), 90), 10))
        d.remediate(RunbookAction(runbook, "HighAPILatency", "raise the pool", ctx.stack))
        d.expect_resolved()
        d.invariant("p95 back under 1 s on /signals", lambda: _p95_under(ctx, 1.0))
        d.invariant("CriticalAPILatency never fired", lambda: never_fired(ctx, "CriticalAPILatency", began))
        d.stop_workload()
        d.heal_all()
        d.steady_state()
        d.invariant("/signals served normally", lambda: signal_list_served(ctx))
        d.invariant("every generated signal stored exactly once",
                    lambda: signals_stored_since(ctx.endpoints.generator, ctx.endpoints.postgres_dsn, began))


def _p95_under(ctx, limit: float) -> str:
    value = ctx.prometheus.value(HIGH_API_LATENCY.watch)
    require(value is not None and value < limit, "p95 latency still high after the remediation",
            expected=f"< {limit:g} s", seen=f"{HIGH_API_LATENCY.watch} = {value}")
    return f"p95 = {value:.2f} s"


def test_HighAPILatency(drill, drill_context, drill_settings):
    run(drill, drill_context, drill_settings.runbook)
