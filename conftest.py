"""`make test` runs the tiers in two drill lanes (pytest-xdist `-n 2`, a stack per worker: see
fixtures/drills.py). One worker takes the tiers that need no session stack, in order: the fast ones, then
the reliability tier, which starts and stops stacks of its lane itself and so must run before that
worker's session stack exists. Every other test (stack smoke, drills, gameday, broken-alerting drills)
goes to whichever worker is free, so the other lane drills while the first runs the fast tiers.

A scheduler of our own rather than `--dist loadgroup`: pytest-xdist 3.8 marks a group by rewriting
`item._nodeid`, which pytest 9 no longer reads, so its groups are silently ignored."""
from __future__ import annotations

import pytest

TIERS = ("tests/rules", "tests/report", "tests/adopt", "tests/platform", "tests/reliability", "tests/stack",
         "scenarios", "tests/gameday", "tests/drill")


class TierClock:
    """Each test tier's time, for the summary: the sum of its tests' setup + call + teardown, and its span
    (its first test's start to its last test's end). Run in lanes (`-n 2`), tiers overlap: the spans
    show when each ran, the sums what each costs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.spans: dict[str, tuple[float, float]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        tier = next((t for t in TIERS if report.nodeid.startswith(t + "/")), report.nodeid.split("/", 1)[0])
        self.seconds[tier] = self.seconds.get(tier, 0.0) + report.duration
        start, stop = getattr(report, "start", None), getattr(report, "stop", None)
        if start is not None and stop is not None:
            first, last = self.spans.get(tier, (start, stop))
            self.spans[tier] = (min(first, start), max(last, stop))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.seconds:
            return
        terminalreporter.section("time per tier: sum of setup + call + teardown; span from first start to last end")
        began = min((a for a, _ in self.spans.values()), default=0.0)
        order = lambda kv: TIERS.index(kv[0]) if kv[0] in TIERS else 99  # noqa: E731
        for tier, s in sorted(self.seconds.items(), key=order):
            span = self.spans.get(tier)
            where = (f"   span {span[1] - span[0]:7.1f} s (from +{span[0] - began:.0f} s to +{span[1] - began:.0f} s)"
                     if span else "")
            terminalreporter.write_line(f"{tier:<16} sum {s:7.1f} s{where}")
        if self.spans:
            terminalreporter.write_line(f"{'all tiers':<16} span {max(b for _, b in self.spans.values()) - began:7.1f} s")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(TierClock(), "alertdrill-tier-clock")


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
