"""Quiet: a deploy under traffic, as the runbook's HighErrorRate rollback does one.

With traders on the dashboard and Stripe and an EA at work, the backend is deployed twice: a good
release (RELEASE=1.4.3 in backend/.env, then a restart) and back to 1.4.2 by the runbook's own rollback
commands. Each restart takes the backend away for seconds: requests in flight are refused, not failed by
the server, and the generator, Stripe and the EA retry. No alert has anything to say, errors_total
stays put, and nothing is lost: every acknowledged payment and every generated signal is stored once.
"""
from __future__ import annotations

import time

import pytest

from alertdrill.engine.faults import EnvFileEdit
from alertdrill.engine.quiet import QuietDrill, QuietExpectation
from alertdrill.engine.remediations import RunbookAction

from scenarios._common import dashboard_load
from scenarios._quiet import SERVER_ERRORS
from scenarios.platform.client import generator_url
from scenarios.platform.invariants import signals_stored_since, webhooks_exactly_once
from scenarios.platform.traffic import CustomerTraffic

pytestmark = pytest.mark.drill

EXPECTATION = QuietExpectation(noise="two deploys of good releases under traffic, each a backend restart",
                         unmoved=SERVER_ERRORS)  # a restart could touch any alert the backend feeds: every rule


def run(d: QuietDrill, ctx) -> None:
    d.steady_state()
    began = time.time()
    traffic = d.alongside(CustomerTraffic(ctx.endpoints.backend, period=1.0).start())
    with d.quiet():
        d.workload(dashboard_load(ctx, users=5, tasks="signals,approvals,market", wait=1.0, name="dashboard"))
        d.inject(EnvFileEdit("backend", "backend/.env", {"RELEASE": "1.4.3"}))
        d.remediate(RunbookAction("HighErrorRate", "roll back"))
    d.end(traffic)
    d.stop_workload()
    traffic.drain()
    d.invariant("every acknowledged payment stored exactly once",
                lambda: webhooks_exactly_once(traffic.log, ctx.endpoints.postgres_dsn))
    d.invariant("every generated signal stored exactly once",
                lambda: signals_stored_since(generator_url(ctx.endpoints), ctx.endpoints.postgres_dsn, began))


def test_quiet_deploy(drill):
    drill(run, EXPECTATION)
