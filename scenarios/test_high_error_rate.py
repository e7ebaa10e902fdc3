"""HighErrorRate (warning): a bad release.

The backend is redeployed as release 1.5.0-rc1, whose GET /api/v1/signals reads a column no migration
created: every call answers 500 (a real psycopg UndefinedColumn). With the dashboard's modest traffic on
that endpoint the errors run between 0.1/s and 1/s. Runbook: the errors-by-endpoint query names
/signals and `docker logs backend | grep ERROR` shows why; remediation "roll back to the previous
release, 1.4.2, and restart the backend".
"""
from __future__ import annotations

import time

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import logs_show, runbook_query, top_label, wait_for
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import EnvFileEdit
from alertdrill.engine.remediations import RunbookAction

from scenarios._common import dashboard_load, never_fired, signal_list_served
from scenarios.platform.client import generator_url
from scenarios.platform.invariants import signals_stored_since

pytestmark = pytest.mark.drill

ENDPOINT = "/signals"
EXPECTATION = AlertExpectation.from_runbook(
    "HighErrorRate",
    instance={"endpoint": ENDPOINT},
    watch=f'sum(rate(errors_total{{endpoint="{ENDPOINT}"}}[5m]))',
)


def run(d: Drill, ctx: DrillContext) -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    d.steady_state()
    began = time.time()
    # Two traders refreshing every 4 s: 0.5 requests/s on /signals.
    d.workload(dashboard_load(ctx, users=2, tasks="signals", wait=4.0), warmup=10)
    d.inject(EnvFileEdit("backend", "backend/.env", {"RELEASE": "1.5.0-rc1"}))
    deployed = time.time()
    d.expect_firing()
    d.investigate("the errors-by-endpoint query names /signals", lambda: top_label(
        ctx.prometheus, runbook_query(ctx, "HighErrorRate", "errors_total"), "endpoint", ENDPOINT))
    d.investigate("docker logs backend shows the ERROR lines", lambda: wait_for(
        lambda: logs_show(ctx, "backend", deployed - 5, "ERROR", "/api/v1/signals"), 10))
    d.remediate(RunbookAction("HighErrorRate", "roll back"))
    d.expect_resolved()
    d.invariant("CriticalErrorRate never fired", lambda: never_fired(ctx, "CriticalErrorRate", began))
    d.stop_workload()
    d.invariant("the signal list is served again", lambda: signal_list_served(ctx))
    d.invariant("every generated signal stored exactly once",
                lambda: signals_stored_since(generator_url(ctx.endpoints), ctx.endpoints.postgres_dsn, began))


def test_HighErrorRate(drill):
    drill(run, EXPECTATION)
