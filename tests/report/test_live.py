"""The live view of a waiting drill: in plain mode a line when something changes or every 10 s (not every
poll); in place on a terminal (rich), the final line kept."""
from __future__ import annotations

import io
from contextlib import nullcontext
from alertdrill.engine import live
from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.live import LiveView, RichLine
from alertdrill.engine.timeline import Event, Phase, Timeline
from tests.doubles import stand_in

DRILL = stand_in(Drill, expect=AlertExpectation("RedisDisconnected", "critical", frozenset({"pagerduty"}),
                                                threshold="== 0"),
                 timeline=Timeline(scenario="test_RedisDisconnected", alert="RedisDisconnected", factor=30.0,
                                   outcome="passed"))


def run_a_drill(view: LiveView, polls: int) -> None:
    view.drill_started(DRILL)
    view.phase_started(DRILL, Phase("RedisDisconnected fires", 0.0))
    for i in range(polls):
        view.sampled(DRILL, float(i), 0.0)
        view.progress(DRILL, "firing", 30.0 - i)
    view.marked(DRILL, Event("notified:pagerduty", 1.0))
    view.drill_ended(DRILL)


def test_plain_lines_only_on_change(monkeypatch):
    lines = []
    monkeypatch.setattr(live.time, "monotonic", iter(range(0, 10_000)).__next__)  # one second per update
    run_a_drill(LiveView(lambda text, final: lines.append((text, final)), in_place=False), polls=25)
    # start, phase, a line at each 10 s of the 50 updates (~5), the page, the end: not one a poll
    assert 6 <= len(lines) <= 12, [t for t, _ in lines]
    assert lines[-1][1] and "passed" in lines[-1][0] and "notified: pagerduty" in lines[-1][0]
    assert any("value 0 (alert when == 0)" in t for t, _ in lines)


def test_terminal_line_updates_in_place_and_keeps_the_last(monkeypatch):
    line = RichLine(nullcontext)
    out = io.StringIO()
    from rich.console import Console

    line.console = Console(file=out, force_terminal=True, width=160)
    view = LiveView(line.show, in_place=True)
    run_a_drill(view, polls=3)
    text = out.getvalue()
    assert "\x1b[" in text, "a terminal view moves the cursor to redraw its line"
    assert text.rstrip().splitlines()[-1].endswith("notified: pagerduty")
