"""SignalIngestionStopped (critical, revenue): the signal generator dies.

`docker compose stop signal-generator`: no signal is stored any more. Runbook: `docker ps` shows the
generator gone and the recent-signals SQL shows the last stored signal before the stop; remediation
"Signal generator stopped or stuck: restart it". Invariant: signals resume, the gap in the data is
exactly the outage, and nothing is stored twice.
"""
from __future__ import annotations

import time

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import InvestigationFailed, runbook_command, sql_rows, wait_for
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import StopContainer
from alertdrill.engine.remediations import RunbookAction
from alertdrill.errors import require, require_evidence

from scenarios._common import ps_row
from scenarios.platform.client import generator_url
from scenarios.platform.invariants import signals_stored_since

pytestmark = pytest.mark.drill

EXPECTATION = AlertExpectation.from_runbook(
    "SignalIngestionStopped",
    watch="sum(increase(signals_ingested_total[5m]))",
)

RECENT = ("SELECT count(*), max(created_at) FROM signals "
          "WHERE source = 'signal-generator' AND created_at > now() - interval '10 minutes'")


def generator_gone(ctx: DrillContext) -> str:
    """Runbook investigation 1, run as written: `docker ps -a --filter name=signal-generator`."""
    ps = runbook_command(ctx, "SignalIngestionStopped", "docker ps")
    row = ps_row(ctx, ps, "signal-generator")
    require_evidence(bool(row) and " Up " not in f" {row} ", "docker ps shows signal-generator up",
                     expected="signal-generator Exited", seen=ps)
    return f"docker ps: {' '.join(row.split()[4:])[-80:]}"


def last_signal_before(ctx, stopped: float) -> str:
    count, last = sql_rows(ctx.endpoints.postgres_dsn, RECENT)[0]
    require_evidence(last is not None and last.timestamp() <= stopped + 1, "signals were stored after the generator stopped",
            expected=f"the last signal stored before {stopped:.1f}", seen=f"count {count}, last {last}")
    return f"{count} signals in the last 10 minutes, the last at {last:%H:%M:%S} ({stopped - last.timestamp():.1f}s before the stop)"


def gap_is_the_outage(ctx, stopped: float, restarted: float) -> str:
    """No signal was stored between the stop and the restart; signals arrive again after it."""
    rows = sql_rows(ctx.endpoints.postgres_dsn,
                    "SELECT count(*) FROM signals WHERE source = 'signal-generator' "
                    "AND created_at > to_timestamp(%s) AND created_at < to_timestamp(%s)", (stopped + 1, restarted))
    require(rows[0][0] == 0, "signals were stored during the outage", expected="none", seen=f"{rows[0][0]}")
    after = sql_rows(ctx.endpoints.postgres_dsn, "SELECT count(*) FROM signals WHERE source = 'signal-generator' "
                     "AND created_at >= to_timestamp(%s)", (restarted,))[0][0]
    if after < 3:
        raise InvestigationFailed("signals have not resumed", expected=">= 3 stored since the restart", seen=str(after))
    return f"no signal between the stop and the restart ({restarted - stopped:.0f}s); {after} since"


def run(d: Drill, ctx: DrillContext) -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    d.steady_state()
    d.inject(StopContainer("signal-generator"))
    stopped = time.time()
    d.expect_firing()
    d.investigate("the generator is not running (docker ps)", lambda: generator_gone(ctx))
    d.investigate("the last stored signal predates the stop", lambda: last_signal_before(ctx, stopped))
    d.remediate(RunbookAction("SignalIngestionStopped", "restart signal-generator"))
    restarted = time.time()
    d.expect_resolved()
    d.invariant("the gap in the data is exactly the outage",
                lambda: wait_for(lambda: gap_is_the_outage(ctx, stopped, restarted), 20))
    d.invariant("every signal generated since the restart stored exactly once",
                lambda: signals_stored_since(generator_url(ctx.endpoints), ctx.endpoints.postgres_dsn, restarted))


def test_SignalIngestionStopped(drill):
    drill(run, EXPECTATION)
