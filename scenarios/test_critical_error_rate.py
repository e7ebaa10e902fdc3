"""CriticalErrorRate (critical): the database link is cut under load.

Toxiproxy disables the backend's path to Postgres: every request that needs the database fails with
503 once the pool gives up, well above 1 error/s. Runbook remediation "Network path to Postgres cut:
restore the link, then check DB connectivity from the backend". Invariant: no write that was
acknowledged was lost (payments, signals).

A second endpoint shows the inhibition is per endpoint: a trader's settings page listing their devices
(GET /devices, which nothing else calls during the drill; /signals would not do, the generator stores
its signals there) at 0.5/s fails too, above HighErrorRate's 0.1/s and below CriticalErrorRate's 1/s,
and that warning still reaches Slack while the critical alert of /approvals holds its own twin back.
"""
from __future__ import annotations

import time

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import logs_show, notified_elsewhere, wait_for, wait_inhibited
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import CutLink, EnvFileEdit
from alertdrill.engine.invariants import inhibited_never_notified
from alertdrill.engine.remediations import RunbookAction

from scenarios._common import dashboard_load, device_listings, signal_list_served
from scenarios.platform.client import generator_url
from scenarios.platform.invariants import signals_stored_since, webhooks_exactly_once
from scenarios.platform.traffic import CustomerTraffic

pytestmark = pytest.mark.drill

ENDPOINT = "/approvals"
SECOND = "/devices"  # the warning-level endpoint: its HighErrorRate is not /approvals' to inhibit
BACKEND_POOL_TIMEOUT_MS = 10_000  # DB_POOL_TIMEOUT in the backend's .env
EXPECTATION = AlertExpectation.from_runbook(
    "CriticalErrorRate",
    instance={"endpoint": ENDPOINT},
    watch=f'sum(rate(errors_total{{endpoint="{ENDPOINT}"}}[5m]))',
    side_effects={
        # Requests wait up to DB_POOL_TIMEOUT for a connection before they fail: p95 passes 5 s.
        "CriticalAPILatency": "requests wait for a database connection until the pool times out",
        # Nothing can be stored while the link is down; the generator keeps its backlog and retries.
        "SignalIngestionStopped": "no signal can be stored while the database is unreachable",
        # Its warning twin fires in Prometheus too; Alertmanager must hold it back (the inhibition).
        "HighErrorRate": "more than 1 error/s is more than 0.1/s too; inhibited for the same endpoint",
        "HighAPILatency": "requests wait for a connection until the pool gives up: p95 passes 1 s on the "
                          "routes the critical latency alert does not cover",
    },
)


def run(d: Drill, ctx: DrillContext) -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    d.steady_state()
    began = time.time()
    # Once the link is cut every request waits DB_POOL_TIMEOUT for a connection and fails. The backend's
    # 10 s are not compressed by the drill factor: the traders' requests would all fail together every
    # 10 s, and a 5m window compressed to 10 s would see gaps between the bursts (the warning twin's `for`
    # would restart at each gap). The pool timeout is compressed like every other duration of the drill,
    # to no less than a second, so that a busy healthy backend does not time out before the fault.
    pool_timeout = f"{max(ctx.timings.drill_s(BACKEND_POOL_TIMEOUT_MS), 1.0):g}"
    d.inject(EnvFileEdit("backend", "backend/.env", {"DB_POOL_TIMEOUT": pool_timeout}))
    traffic = d.alongside(CustomerTraffic(ctx.endpoints.backend, period=1.0).start())
    d.workload(dashboard_load(ctx, users=20, tasks="approvals", wait=0.5), warmup=8)
    readers = d.alongside(device_listings(ctx, per_second=0.5))
    d.inject(CutLink("postgres"))
    cut = time.time()
    d.expect_firing()
    d.investigate("HighErrorRate is inhibited for the endpoint",
                  lambda: wait_inhibited(ctx, "CriticalErrorRate", {"endpoint": ENDPOINT}))
    d.investigate("HighErrorRate of /devices still reaches Slack (inhibited per endpoint only)", lambda: wait_for(
        lambda: notified_elsewhere(ctx, "CriticalErrorRate", {"endpoint": SECOND}, cut),
        ctx.timings.fire_deadline_s("HighErrorRate")))
    d.end(readers)
    d.investigate("database errors in the backend log", lambda: wait_for(
        lambda: logs_show(ctx, "backend", cut - 5, "ERROR", "database"), 10))
    d.remediate(RunbookAction("CriticalErrorRate", "restore the link"))
    d.expect_resolved()
    # While the critical alert fired; once it resolves its twin may notify on its own, as it would in
    # production while a 5m window drains.
    d.invariant("no separate warning reached Slack while it fired",
                lambda: inhibited_never_notified(ctx, "CriticalErrorRate", {"endpoint": ENDPOINT}, cut))
    d.end(traffic)
    d.stop_workload()
    traffic.drain()
    d.steady_state()
    d.invariant("the dashboard is served again", lambda: signal_list_served(ctx))
    d.invariant("every acknowledged payment stored exactly once",
                lambda: webhooks_exactly_once(traffic.log, ctx.endpoints.postgres_dsn))
    d.invariant("every generated signal stored exactly once",
                lambda: signals_stored_since(generator_url(ctx.endpoints), ctx.endpoints.postgres_dsn, began))


def test_CriticalErrorRate(drill):
    drill(run, EXPECTATION)
