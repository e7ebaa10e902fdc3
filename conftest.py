"""`make test` runs the tiers in two drill lanes (pytest-xdist `-n 2`, a stack per worker: see
fixtures/plugin.py). One worker takes the tiers that need no session stack, in order: the fast ones, then
the reliability tier, which starts and stops stacks of its lane itself and so must run before that
worker's session stack exists. Every other test (stack smoke, drills, gameday, broken-alerting drills)
goes to whichever worker is free, so the other lane drills while the first runs the fast tiers.

A scheduler of our own rather than `--dist loadgroup`: pytest-xdist 3.8 marks a group by rewriting
`item._nodeid`, which pytest 9 no longer reads, so its groups are silently ignored."""
from __future__ import annotations

from alertdrill.fixtures.plugin import TIERS

# The tiers the testpaths order puts before the stack smoke tests: those that need no session stack.
WITHOUT_SESSION_STACK = tuple(f"{t}/" for t in TIERS[:TIERS.index("tests/stack")])


def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class TiersThenAnyLane(LoadScopeScheduling):
        """LoadScopeScheduling with one scope for the tiers without a session stack (in collection
        order, on one worker) and a scope per test for the rest (to any free worker)."""

        def _split_scope(self, nodeid: str) -> str:
            return "without-session-stack" if nodeid.startswith(WITHOUT_SESSION_STACK) else nodeid

    return TiersThenAnyLane(config, log)
