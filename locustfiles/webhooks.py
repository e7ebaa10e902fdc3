"""Stripe delivering signed billing events to POST /api/v1/billing/webhook.

    locust -f locustfiles/webhooks.py --host http://127.0.0.1:8000

StripeUser POSTs checkout.session.completed events (alertdrill.platform.checkout_event), signed with the
Stripe-Signature header (alertdrill.platform.stripe_signature: t=<now>,v1=HMAC-SHA256(secret, "t.payload")).
Stats name "/billing/webhook".
  WEBHOOK_MODE=fresh   a new event (new id) every delivery: 200 {"status": "processed"} is success; anything
                       else, a "duplicate" answer included, is a failure.
  WEBHOOK_MODE=replay  a replay attack: ONE fixed event delivered again and again (re-signed with a fresh
                       timestamp each time, as an attacker replaying a captured body would): the first
                       delivery answers "processed", the others 200 {"status": "duplicate"}
                       (webhook_events_total{outcome="replay_attack"}); both are success, and at most one
                       payments row may result. The event is built once per process, so every user of a
                       process replays the same one.
A 400 (signature refused, e.g. a wrong WEBHOOK_SECRET) or a 503 is a failure.

Environment (read when each user starts):
  WEBHOOK_MODE       fresh | replay (default fresh)
  WEBHOOK_EVENT_ID   replay mode: the event id to replay (default: evt_<random>, generated once per process)
  WEBHOOK_SECRET     signing secret (default whsec_alertdrill_test, the stack's backend/.env value)
  WEBHOOK_RPS        deliveries/s per user, via constant_throughput (default 1)
  WEBHOOK_AMOUNT     amount_total of the events, in cents (default 4900)
  WEBHOOK_CLIENT_IP  one loopback source address for every user; default each its own 127.7.<x>.<y>
"""
from __future__ import annotations

import json

from locust import HttpUser, constant_throughput, task

import _shared as sh
from scenarios.platform.client import WEBHOOK_SECRET, checkout_event, stripe_signature

WEBHOOK_PATH = f"{sh.API}/billing/webhook"
_replayed: dict[str, bytes] = {}  # event id -> the one payload this process replays (filled at first use)


def replay_payload(event_id: str, amount: int) -> bytes:
    if event_id not in _replayed:
        event = checkout_event(amount=amount, customer="cus_alertdrill_replay")
        event["id"] = event_id
        _replayed[event_id] = json.dumps(event).encode()
    return _replayed[event_id]


class StripeUser(HttpUser):
    def on_start(self) -> None:
        self._pace = constant_throughput(sh.env_float("WEBHOOK_RPS", 1.0, minimum=0.0, allow_equal=False))
        self.mode = sh.env_choice("WEBHOOK_MODE", "fresh", ("fresh", "replay"))
        self.secret = sh.env_str("WEBHOOK_SECRET", WEBHOOK_SECRET)
        self.amount = sh.env_int("WEBHOOK_AMOUNT", 4900, minimum=0)
        self.event_id: str | None = None
        if self.mode == "replay":
            self.event_id = sh.env_str("WEBHOOK_EVENT_ID", "") or _process_event_id()
        sh.with_address(self, sh.client_address("127.7", "WEBHOOK_CLIENT_IP"))

    def wait_time(self) -> float:
        return self._pace(self)

    @task
    def deliver(self) -> None:
        if self.mode == "replay":
            payload = replay_payload(self.event_id, self.amount)
        else:
            payload = json.dumps(checkout_event(amount=self.amount, customer="cus_alertdrill_load")).encode()
        headers = {"Content-Type": "application/json", "Stripe-Signature": stripe_signature(payload, self.secret)}
        with self.client.post(WEBHOOK_PATH, data=payload, headers=headers, name="/billing/webhook",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code} {resp.text[:120]}")
                return
            try:
                status = resp.json().get("status")
            except (ValueError, AttributeError):
                resp.failure(f"webhook answer not JSON: {resp.text[:120]}")
                return
            ok = ("processed", "duplicate") if self.mode == "replay" else ("processed",)
            if status in ok:
                resp.success()
            else:
                resp.failure(f"{self.mode} delivery answered status={status!r}")


_process_id: list[str] = []


def _process_event_id() -> str:
    if not _process_id:
        _process_id.append(checkout_event()["id"])
    return _process_id[0]
