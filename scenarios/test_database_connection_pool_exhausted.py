"""DatabaseConnectionPoolExhausted (critical): long-running queries hold the pool's connections.

A runaway job locks the signals table and keeps running; every request that reads signals waits on the
lock while holding its pool connection, until the pool is full. Runbook: pg_stat_activity lists the
long-running queries; remediation "terminate those running for more than 30 seconds"
(pg_terminate_backend). Recovery: pool use back down, requests served again.

The runbook's other action is drilled too, [pool_too_small]: a pool of 2 under the same traders' load with
Postgres slowed to 200 ms a round trip is fully used; "raise DB_POOL_SIZE and restart the backend" (50).
"""
from __future__ import annotations

import time

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import InvestigationFailed, runbook_query, runbook_sql, value_above, wait_for
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import EnvFileEdit, RunawayQuery, Toxic
from alertdrill.engine.remediations import RunbookAction

from scenarios._common import dashboard_load, signal_list_served
from scenarios.platform.client import generator_url
from scenarios.platform.invariants import signals_stored_since

pytestmark = pytest.mark.drill

EXPECTATION = AlertExpectation.from_runbook(
    "DatabaseConnectionPoolExhausted",
    watch="max(db_connection_pool_size)",
    side_effects={
        "CriticalAPILatency": "requests wait on the lock or for a free connection for many seconds",
        "CriticalErrorRate": "requests that find no free connection fail after DB_POOL_TIMEOUT",
        "SignalIngestionStopped": "inserts into the locked signals table wait too",
        "HighAPILatency": "requests wait on the lock: p95 passes 1 s",
        "HighErrorRate": "requests that find no free connection fail (503) after DB_POOL_TIMEOUT",
    },
)

RUNBOOK_AGE = 30.0  # the remediation terminates queries active for longer than this


def long_running_queries(ctx) -> str:
    """The runbook's pg_stat_activity query (investigation step 2, run in the psql it names) lists active
    queries older than the remediation's 30 s, the runaway among them."""
    out = runbook_sql(ctx, "DatabaseConnectionPoolExhausted", "now() - query_start")
    rows = [[c.strip() for c in line.split("|")] for line in out.splitlines() if line.count("|") >= 3]
    old = [r for r in rows[1:] if _seconds(r[1]) > RUNBOOK_AGE and r[2] == "active"]
    if not any("pg_sleep" in r[3] for r in old):
        raise InvestigationFailed("no query has run for more than 30 s yet", seen=out.strip()[-600:])
    return f"{len(old)} queries active for > {RUNBOOK_AGE:g}s: " + "; ".join(
        f"pid {r[0]} {_seconds(r[1]):.0f}s {r[3][:40]!r}" for r in old[:4])


def _seconds(interval: str) -> float:
    """psql's interval text (HH:MM:SS.ffffff; empty for NULL) as seconds."""
    parts = interval.split(":")
    if len(parts) != 3:
        return 0.0
    try:
        return int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
    except ValueError:
        return 0.0


def runaway_queries(d: Drill, ctx: DrillContext) -> None:
    d.steady_state()
    began = time.time()
    d.workload(dashboard_load(ctx, users=15, tasks="signals", wait=0.5), warmup=8)
    d.inject(RunawayQuery("signals"))
    d.expect_firing()
    # The runbook terminates queries older than 30 s: wait until the evidence says they are.
    d.investigate("pg_stat_activity lists the long-running queries",
                  lambda: wait_for(lambda: long_running_queries(ctx), 60))
    d.remediate(RunbookAction("DatabaseConnectionPoolExhausted", "terminate"))
    recovers(d, ctx, began)


def pool_too_small(d: Drill, ctx: DrillContext) -> None:
    d.steady_state()
    began = time.time()
    d.inject(EnvFileEdit("backend", "backend/.env", {"DB_POOL_SIZE": "2"}))
    # Paced under the per-address rate limit once the pool is healthy again, as HighAPILatency's drill.
    d.workload(dashboard_load(ctx, users=12, tasks="signals", wait=0.6), warmup=12)
    d.inject(Toxic("postgres", "latency", {"latency": 200, "jitter": 20}))
    d.expect_firing()
    d.investigate("every connection of the pool is in use", lambda: wait_for(lambda: value_above(
        ctx.prometheus, runbook_query(ctx, "DatabaseConnectionPoolExhausted", "db_connection_pool_size"), 90), 10))
    d.remediate(RunbookAction("DatabaseConnectionPoolExhausted", "raise DB_POOL_SIZE"))
    recovers(d, ctx, began)


def recovers(d: Drill, ctx: DrillContext, began: float) -> None:
    d.expect_resolved()
    d.stop_workload()
    d.heal_all()
    d.steady_state()
    d.invariant("requests are served again", lambda: signal_list_served(ctx))
    d.invariant("every generated signal stored exactly once",
                lambda: signals_stored_since(generator_url(ctx.endpoints), ctx.endpoints.postgres_dsn, began))


SITUATIONS = {"runaway_queries": runaway_queries, "pool_too_small": pool_too_small}  # the runbook's two actions


def run(d: Drill, ctx: DrillContext, situation: str = "runaway_queries") -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    SITUATIONS[situation](d, ctx)


@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_DatabaseConnectionPoolExhausted(drill, situation):
    drill(run, EXPECTATION, situation=situation)
