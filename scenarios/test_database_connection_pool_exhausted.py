"""DatabaseConnectionPoolExhausted (critical): long-running queries hold the pool's connections.

A runaway job locks the signals table and keeps running; every request that reads signals waits on the
lock while holding its pool connection, until the pool is full. Runbook: pg_stat_activity lists the
long-running queries; remediation "terminate those running for more than 30 seconds"
(pg_terminate_backend). Recovery: pool use back down, requests served again.
"""
from __future__ import annotations

import time

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import InvestigationFailed, sql_rows, wait_for
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import RunawayQuery
from alertdrill.engine.invariants import signals_stored_since
from alertdrill.engine.remediations import RunbookAction

from scenarios._common import PAGED, dashboard_load, signal_list_served

pytestmark = pytest.mark.drill

EXPECTATION = AlertExpectation(
    alertname="DatabaseConnectionPoolExhausted",
    severity="critical",
    receivers=PAGED,
    watch="max(db_connection_pool_size)",
    threshold="> 90",
    side_effects={
        "CriticalAPILatency": "requests wait on the lock or for a free connection for many seconds",
        "CriticalErrorRate": "requests that find no free connection fail after DB_POOL_TIMEOUT",
        "SignalIngestionStopped": "inserts into the locked signals table wait too",
        "HighAPILatency": "requests wait on the lock: p95 passes 1 s",
        "HighErrorRate": "requests that find no free connection fail (503) after DB_POOL_TIMEOUT",
    },
)

# The runbook's own query (investigation step 2), and its remediation's threshold.
LONG_RUNNING = ("SELECT pid, now() - query_start AS duration, state, left(query, 80) FROM pg_stat_activity "
                "WHERE datname = 'trading_signals' AND state = 'active' AND pid <> pg_backend_pid() "
                "ORDER BY duration DESC NULLS LAST LIMIT 10")
RUNBOOK_AGE = 30.0


def long_running_queries(ctx) -> str:
    """pg_stat_activity shows active queries older than the runbook's 30 s, the runaway among them."""
    rows = sql_rows(ctx.endpoints.postgres_dsn, LONG_RUNNING)
    old = [r for r in rows if r[1] is not None and r[1].total_seconds() > RUNBOOK_AGE]
    if not any("pg_sleep" in (r[3] or "") for r in old):
        raise InvestigationFailed("no query has run for more than 30 s yet",
                                  seen="; ".join(f"{r[0]} {r[1]} {r[3]}" for r in rows[:5]))
    return f"{len(old)} queries active for > {RUNBOOK_AGE:g}s: " + "; ".join(
        f"pid {r[0]} {r[1].total_seconds():.0f}s {r[3][:40]!r}" for r in old[:4])


def run(d: Drill, ctx: DrillContext) -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    d.steady_state()
    began = time.time()
    d.workload(dashboard_load(ctx, users=15, tasks="signals", wait=0.5), warmup=8)
    d.inject(RunawayQuery("signals"))
    d.expect_firing()
    # The runbook terminates queries older than 30 s: wait until the evidence says they are.
    d.investigate("pg_stat_activity lists the long-running queries",
                  lambda: wait_for(lambda: long_running_queries(ctx), 60))
    d.remediate(RunbookAction("DatabaseConnectionPoolExhausted", "terminate"))
    d.expect_resolved()
    d.stop_workload()
    d.steady_state()
    d.invariant("requests are served again", lambda: signal_list_served(ctx))
    d.invariant("every generated signal stored exactly once",
                lambda: signals_stored_since(ctx.endpoints.generator, ctx.endpoints.postgres_dsn, began))


def test_DatabaseConnectionPoolExhausted(drill):
    drill(run, EXPECTATION)
