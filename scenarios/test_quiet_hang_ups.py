"""Quiet: clients hanging up mid-upload, at the per-address rate limit, on the paths that read a body.

Two clients, each from an address of its own, send the headers of a POST with a Content-Length, part of
the body, and hang up, 1.9 times a second: one on the payment webhook (read before its signature is
checked), one on the EA ack (read before the device authenticates). That stays under the backend's
RATE_LIMIT_PER_MINUTE (120) and is above CriticalErrorRate's 1 error/s per endpoint, so a backend that
counted a hang-up as a server error would page on-call for a stranger. It counts them in
client_disconnects_total instead, which no alert reads: errors_total stays put and nobody is told.
"""
from __future__ import annotations

import pytest

from alertdrill.engine.quiet import QuietDrill, QuietExpectation
from alertdrill.load.paced import Paced

from scenarios._quiet import SERVER_ERRORS, counted, rose_by
from scenarios.platform.noise import hang_up

pytestmark = pytest.mark.drill

RATE = 1.9  # per address and second: 114 a minute, under the per-address limit of 120
PATHS = {"/api/v1/billing/webhook": "127.0.0.71", "/api/v1/ea/ack": "127.0.0.72"}
DISCONNECTS = 'sum(client_disconnects_total{endpoint=~"/billing/webhook|/ea/ack"})'
EXPECTATION = QuietExpectation(
    noise="clients hanging up mid-body on the webhook and the EA ack",
    touches=("HighErrorRate", "CriticalErrorRate", "PaymentWebhookFailures", "EAPollErrors"),
    unmoved=SERVER_ERRORS,
)


def run(d: QuietDrill, ctx) -> None:
    d.steady_state()
    before = counted(ctx, DISCONNECTS)
    with d.quiet():
        streams = [d.alongside(Paced(f"hang-ups on {path}", lambda i, p=path, a=source: hang_up(
            ctx.endpoints.backend, p, source=a), per_second=RATE).start()) for path, source in PATHS.items()]
    for stream in streams:
        d.end(stream)
        d.report(f"    {stream.describe()}")
    sent = sum(s.outcomes["hung up"] for s in streams)
    d.invariant("the backend counted each hang-up once, as a client disconnect",
                lambda: rose_by(ctx, DISCONNECTS, before, sent, "hang-ups"))


def test_quiet_hang_ups(drill):
    drill(run, EXPECTATION)
