"""PaymentWebhookFailures (critical, revenue): replayed and badly signed Stripe webhooks.

replay: one validly signed checkout event is delivered again and again (2/s) from one address. The
  alert fires; the payment is processed exactly once (one payments row, one idempotency key
  idempotent:<id> with a TTL near 24 h: the platform's replay window, an invariant the runbook does not
  investigate). Remediation: block the
  sending address (the runbook's denylist action); the replays stop and the alert resolves.
secret_mismatch: the backend's STRIPE_WEBHOOK_SECRET no longer matches the sender's, so genuine
  deliveries fail as invalid_signature. Stripe retries failed deliveries; after the runbook's "set the
  provider's current secret and restart the backend" every event is processed exactly once.
"""
from __future__ import annotations

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import logs_show, sql_rows, wait_for
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import EnvFileEdit, LoadFault
from alertdrill.engine.guards import EnvFileGuard
from alertdrill.engine.remediations import RunbookAction
from alertdrill.errors import require
from alertdrill.load.locust import LocustLoad

from scenarios.platform.client import WEBHOOK_SECRET
from scenarios.platform.invariants import webhooks_exactly_once
from scenarios.platform.traffic import CustomerTraffic

pytestmark = pytest.mark.drill

REPLAYER = "127.0.0.99"
EVENT_ID = "evt_alertdrill_replayed_checkout"
EXPECTATION = AlertExpectation.from_runbook(
    "PaymentWebhookFailures",
    watch='sum(rate(webhook_events_total{outcome=~"replay_attack|invalid_signature"}[5m]))',
)


def processed_once(ctx: DrillContext, event_id: str) -> str:
    rows = sql_rows(ctx.endpoints.postgres_dsn, "SELECT count(*) FROM payments WHERE event_id = %s", (event_id,))
    require(rows[0][0] == 1, "the replayed payment was not processed exactly once", expected="one payments row",
            seen=f"{rows[0][0]} rows for {event_id}")
    ttl = ctx.stack.exec("redis", ["redis-cli", "TTL", f"idempotent:{event_id}"])[1].strip()
    require(ttl.lstrip("-").isdigit() and 86000 <= int(ttl) <= 86400, "the idempotency key's TTL is not ~24 h",
            expected="TTL between 86000 and 86400 s", seen=f"redis-cli TTL idempotent:{event_id} -> {ttl!r}")
    return f"1 payments row for {event_id}; redis-cli TTL idempotent:{event_id} = {ttl} s"


def run_replay(d: Drill, ctx: DrillContext) -> None:
    d.steady_state()
    # A new event every run: the idempotency key and the payment of an earlier run (24 h of TTL) must not
    # be what this run finds.
    replay = LocustLoad("locustfiles/webhooks.py", host=ctx.endpoints.backend, users=1, spawn_rate=1,
                        run_time=300, name="webhook-replay",
                        env={"WEBHOOK_MODE": "replay", "WEBHOOK_EVENT_ID": f"{EVENT_ID}_{d.started:.0f}",
                             "WEBHOOK_RPS": "2", "WEBHOOK_CLIENT_IP": REPLAYER})
    event_id = replay.env["WEBHOOK_EVENT_ID"]
    replaying = d.inject(LoadFault(replay, f"one signed checkout event ({event_id}) delivered 2/s from {REPLAYER}"))
    began = d.timeline.last("injected").at
    d.expect_firing()
    d.investigate("replay_attack lines name the sender", lambda: wait_for(
        lambda: logs_show(ctx, "backend", began, "replay_attack", f"ip={REPLAYER}"), 10))
    d.investigate("the payment was processed once, its key lives ~24 h", lambda: processed_once(ctx, event_id))
    d.guard(EnvFileGuard("backend", "backend/denylist.txt"))
    d.remediate(RunbookAction("PaymentWebhookFailures", "block the sending address",
                              env={"ABUSIVE_IP": REPLAYER}))
    d.expect_resolved()
    d.end(replaying)
    d.invariant("still exactly one payment for the replayed event", lambda: processed_once(ctx, event_id))


def run_secret_mismatch(d: Drill, ctx: DrillContext) -> None:
    d.steady_state()
    traffic = d.alongside(CustomerTraffic(ctx.endpoints.backend, period=1.0).start())
    d.inject(EnvFileEdit("backend", "backend/.env", {"STRIPE_WEBHOOK_SECRET": "whsec_stale_before_rotation"}))
    began = d.timeline.last("injected").at
    d.expect_firing()
    d.investigate("invalid_signature lines in the backend log", lambda: wait_for(
        lambda: logs_show(ctx, "backend", began, "webhook", "invalid_signature"), 10))
    d.remediate(RunbookAction("PaymentWebhookFailures", "current secret",
                              env={"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}))
    d.expect_resolved()
    d.end(traffic)
    traffic.drain()
    d.invariant("every event retried until processed, exactly once",
                lambda: webhooks_exactly_once(traffic.log, ctx.endpoints.postgres_dsn))


FAULTS = {"replay": run_replay, "secret_mismatch": run_secret_mismatch}


def run(d: Drill, ctx: DrillContext, fault: str = "replay") -> None:
    FAULTS[fault](d, ctx)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_PaymentWebhookFailures(drill, fault):
    drill(run, EXPECTATION, fault=fault)
