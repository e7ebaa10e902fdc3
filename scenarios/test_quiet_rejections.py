"""Quiet: a trader clears their queue, a blip in the rejection ratio.

One trader rejects the five newest pending signals at once, and nobody decides anything else for a
while: the share of rejections over HighApprovalRejectionRate's window is 100 % until the window has
passed them, then there is nothing to divide. The alert's `for` (15 minutes, three times its window)
is there to ride out exactly this: it may go pending (a warning: nobody is paged for that), but it must
not fire.
"""
from __future__ import annotations

import pytest

from alertdrill.engine.quiet import QuietDrill, QuietExpectation
from alertdrill.errors import require

from scenarios._quiet import SERVER_ERRORS
from scenarios.platform.client import PlatformClient, reject_newest

pytestmark = pytest.mark.drill

EXPECTATION = QuietExpectation(noise="a trader rejecting five signals at once",
                         touches=("HighApprovalRejectionRate",), unmoved=SERVER_ERRORS)


def run(d: QuietDrill, ctx) -> None:
    d.steady_state()
    trader = PlatformClient(ctx.endpoints.backend, source_address="127.0.0.74")
    try:
        with d.quiet():
            rejected = reject_newest(trader, 5)
            d.report(f"    rejected signals {rejected}")
    finally:
        trader.close()
    d.invariant("the trader's rejections were recorded", lambda: recorded(rejected))


def recorded(rejected: list[int]) -> str:
    require(len(rejected) == 5, "the trader could not reject five pending signals",
            expected="five pending signals rejected (201)", seen=f"rejected {rejected}",
            hint="is the signal generator producing signals?")
    return f"signals {rejected} rejected"


def test_quiet_rejections(drill):
    drill(run, EXPECTATION)
