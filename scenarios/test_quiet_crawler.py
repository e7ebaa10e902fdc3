"""Quiet: a crawler scanning for pages that do not exist and trying tokens that are not tokens.

One address, 1.9 requests a second (under the per-address limit of 120 a minute): in turn a made-up
path (404, or 429 once its minute is used up) and the dashboard's signal list with a random bearer
token (401). Client mistakes, all of them: errors_total (server faults) stays put, no error-rate or
rate-limit alert moves, nobody is told.
"""
from __future__ import annotations

import pytest

from alertdrill.engine.quiet import QuietDrill, QuietExpectation
from alertdrill.errors import require
from alertdrill.load.paced import Paced

from scenarios._quiet import SERVER_ERRORS
from scenarios.platform.noise import Crawler

pytestmark = pytest.mark.drill

EXPECTATION = QuietExpectation(
    noise="a crawler scanning 404s and bad tokens",
    touches=("HighErrorRate", "CriticalErrorRate", "HighRateLimitRejections", "HighAPILatency"),
    unmoved=SERVER_ERRORS,
)


def run(d: QuietDrill, ctx) -> None:
    d.steady_state()
    crawler = Crawler(ctx.endpoints.backend, source="127.0.0.73")
    with d.quiet():
        scan = d.alongside(Paced("crawler", crawler, per_second=1.9, on_stop=crawler.stop).start())
    d.end(scan)
    d.invariant("the crawler was answered 404 and 401, never 5xx", lambda: answered_as_client_errors(scan))


def answered_as_client_errors(scan: Paced) -> str:
    got = dict(scan.outcomes)
    require(got.get("404", 0) > 0 and got.get("401", 0) > 0 and set(got) <= {"401", "404", "429"},
            "the crawler was not answered as a client in the wrong",
            expected="404 for the made-up paths, 401 for the bad tokens (429 once a minute's budget is spent)",
            seen=scan.describe())
    return scan.describe()


def test_quiet_crawler(drill):
    drill(run, EXPECTATION)
