"""Quiet drills: benign noise at drill speed (clients hanging up, a crawler, a spike the platform has room
for, a deploy), and nobody may be told. The runbook's critical means "service degradation or revenue
impact": a page without either is a false page, and false pages teach a rotation to ignore pages.

A quiet drill opens a window (`with d.quiet():`), starts its noise inside it, and the window is held open
until the noise has run past the longest window + `for` of the alerts it could touch, plus group_wait
(Timings.quiet_hold_s). Everything is recorded on the timeline first: every alert state Prometheus shows,
then its ALERTS history for the whole window (nothing between two looks is missed), every notice of this
drill's run, and each counter that must stay put. Then every verdict is judged and all that broke is
named:
- no alert fired;
- no paging alert (a severity the runbook's severity table pages for) was even pending;
- nobody was notified;
- the counters named `unmoved` (the server-fault counters) did not rise.

A scenario is `run(d, ctx)` with `QuietExpectation(noise=..., touches=..., unmoved=...)` as its expectation;
what it says of the noise beyond that (it landed, nothing was lost) are its invariants.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from alertdrill.engine import noise
from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.observe import since_range
from alertdrill.engine.runner import PROGRESS_EVERY_S
from alertdrill.engine.verdicts import Broken
from alertdrill.errors import DrillError, FalseAlarm
from alertdrill.wait import until

if TYPE_CHECKING:
    from alertdrill.alerting.timings import Timings
    from alertdrill.engine.context import DrillContext
    from alertdrill.engine.timeline import Timeline
    from alertdrill.runbook.promises import Promises

QUIET = "(quiet)"  # the alert a quiet drill expects: none


@dataclass(frozen=True)
class QuietExpectation:
    noise: str  # what the noise is, as the summary and the report name the drill
    touches: tuple[str, ...] = ()  # the alerts it could touch (their rules set the hold); () = every rule
    # name -> PromQL of a counter that must not rise while the noise runs (the server-fault counters)
    unmoved: dict[str, str] = field(default_factory=dict)

    def alerts(self, timings: "Timings", promises: "Promises") -> tuple[str, ...]:
        """The alerts whose rules set the hold, each checked against the rules and the runbook."""
        names = self.touches or tuple(timings.rules)
        for name in names:
            timings.rule(name)  # KeyError naming the rules' alerts
            promises.alert(name)  # PromiseError naming the runbook's
        return names

    def hold_s(self, timings: "Timings", promises: "Promises") -> float:
        return timings.quiet_hold_s(self.alerts(timings, promises))

    def promise(self, timings: "Timings", promises: "Promises") -> str:
        """The promise in one sentence, as the plan and the drill's first line say it."""
        counters = f", {', '.join(self.unmoved)} must not rise" if self.unmoved else ""
        return (f"{self.noise}; for {self.hold_s(timings, promises):g}s no alert may fire, no paging alert be "
                f"pending and nobody be notified{counters} (the hold: the longest window + for of "
                f"{', '.join(self.touches) or 'every rule'}, + scrape, evaluation, group_wait and margin)")

    def as_expectation(self) -> AlertExpectation:
        """What the runner's shared phases read: no alert is expected and none is a side effect, so any
        alert that fires is unexpected; the first unmoved counter is the chart's watched value."""
        return AlertExpectation(QUIET, severity="", receivers=frozenset(), threshold="",
                                watch=next(iter(self.unmoved.values()), ""))


class QuietDrill(Drill):
    """A drill whose promise is silence: steady state, noise, the quiet window held and judged, steady state."""

    def __init__(self, ctx: "DrillContext", scenario: str, expectation: QuietExpectation, *,
                 broken_on_purpose: bool = False) -> None:
        self.quiet_expect = expectation
        self.hold_s = expectation.hold_s(ctx.timings, ctx.promises)
        super().__init__(ctx, scenario, expectation.as_expectation(), broken_on_purpose=broken_on_purpose)
        self.timeline.kind = "quiet"
        self.timeline.alert = QUIET

    def intro(self) -> str:
        return (f"quiet drill {self.timeline.scenario}: {self.quiet_expect.promise(self.ctx.timings, self.ctx.promises)}"
                f"; {self.ctx.timings.label}")

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """The quiet window: the body starts the noise; on the way out the window is held open until the
        noise has run `hold_s`, recorded, and judged (FalseAlarm naming every promise broken)."""
        began = time.time()
        self.mark("noise", self.quiet_expect.noise, at=began)
        with self.phase(f"noise: {self.quiet_expect.noise}"):
            yield
        with self.phase(f"quiet for {self.hold_s:g}s"):
            record(self, began)
        broken = judge(self.timeline, self.quiet_expect, self.ctx.promises.paged)
        if broken:
            broken[0].raise_with(self.obs.situation(), broken[1:])


def runner_for(expectation) -> type[Drill]:
    """The runner a scenario's expectation asks for: a quiet drill, or a drill of its alert."""
    return QuietDrill if isinstance(expectation, QuietExpectation) else Drill


# -- recording ---------------------------------------------------------------------------------------------
def record(d: QuietDrill, began: float) -> None:
    """Look every poll until `hold_s` after `began`, then read Prometheus' ALERTS history for the window."""
    baseline = {name: _value(d, expr) for name, expr in d.quiet_expect.unmoved.items()}
    seen = {"last": dict(baseline)}

    def look() -> bool:
        d.sample()  # the chart, and the drill's own limits
        _noise_running(d)
        for a in d.ctx.prometheus.alerts():
            _mark_once(d, f"{a.state}:{a.name}", a.labels.get("severity", ""))
        for name, expr in d.quiet_expect.unmoved.items():
            value, last = _value(d, expr), seen["last"][name]
            if value > last:  # a drop is a restart's reset; a rise is counted
                d.mark(f"moved:{name}", f"{last:g} -> {value:g}")
            seen["last"][name] = value
        _record_notices(d, began)
        return False  # the window ends with its time

    left = max(d.hold_s - (time.time() - began), 2 * d.ctx.timings.evaluation_s)
    until(look, left, poll=d.POLL, on_timeout=lambda: None, every=PROGRESS_EVERY_S,
          progress=d.progress(lambda: _status(d, began)))
    for s in d.ctx.prometheus.query(f"max_over_time(ALERTS[{since_range(began)}])"):
        _mark_once(d, f"{s.labels.get('alertstate')}:{s.labels.get('alertname')}", s.labels.get("severity", ""),
                   "in Prometheus' ALERTS history")
    _record_notices(d, began)


def _value(d: QuietDrill, expr: str) -> float:
    """A counter's value now; no series (nothing counted yet) is 0."""
    return d.ctx.prometheus.value(d.ctx.timings.scale_expr(expr)) or 0.0


def _mark_once(d: QuietDrill, event: str, severity: str, where: str = "") -> None:
    if not d.timeline.first(event):
        d.mark(event, severity + (f" ({where})" if where else ""))


def _noise_running(d: QuietDrill) -> None:
    """The noise runs for the whole window, or the silence proves nothing."""
    for item in d._undo.items("load") + d._undo.items("traffic"):
        if getattr(item, "running", True) is False:
            raise DrillError(f"the noise {getattr(item, 'name', type(item).__name__)} stopped before the quiet "
                             "window ended", expected=f"the noise running for {d.hold_s:g}s",
                             seen=getattr(item, "describe", lambda: "")(),
                             hint="a quiet drill whose noise stopped proves nothing; see its log")


def _record_notices(d: QuietDrill, began: float) -> None:
    """Every notice of this drill's run (or of any alert, on a stack without the run label) since the window
    opened, on the timeline."""
    for n in noise.of_run(d.ctx.sink.notifications(since=began), noise.run_label(d)):  # not an earlier drill's late notice
        row = {"receiver": n.receiver, "integration": n.integration, "status": n.status,
               "at": round(n.received_at, 3), "alert": n.alertname}
        if d.timeline.keep_notice(row):
            d.mark(f"notified:{n.receiver}", f"{n.alertname} {n.status}", at=n.received_at)


def _status(d: QuietDrill, began: float) -> str:
    active = sorted({e.name for e in d.timeline.events if e.name.startswith(("pending:", "firing:"))})
    return (f"quiet {time.time() - began:.0f}/{d.hold_s:g}s; seen: {', '.join(active) or 'no alert'}; "
            f"notices: {len(d.timeline.notifications)}")


# -- judging: pure functions of the timeline ----------------------------------------------------------------
def judge(t: "Timeline", q: QuietExpectation, paged: frozenset[str] | set[str]) -> list[Broken]:
    """Every quiet promise the recorded window broke, in order of how loud the breach was."""
    fired = _events(t, "firing:")
    pending = {a: sev for a, sev in _events(t, "pending:").items() if sev in paged and a not in fired}
    notices = sorted({f"{n['receiver']} ({n.get('alert', '?')} {n['status']})" for n in t.notifications})
    moved = {e.name.split(":", 1)[1]: e.detail for e in t.events if e.name.startswith("moved:")}
    during = f"during the noise ({q.noise})"
    broken = []
    if notices:
        broken.append(Broken(FalseAlarm, f"people were notified {during}: {', '.join(notices)}",
                             expected="no notice to anyone: benign noise is no incident",
                             hint="the alerts below reached a receiver; find why they fired"))
    if fired:
        broken.append(Broken(FalseAlarm, f"{_named(fired)} fired {during}",
                             expected="no alert fires on benign noise",
                             hint="the rule reads a signal this noise moves (client errors or hang-ups counted "
                                  "as server faults?), or its `for` is shorter than the blip it should ride out"))
    if pending:
        broken.append(Broken(FalseAlarm, f"paging alert {_named(pending)} went pending {during}",
                             expected=f"no alert of a paged severity ({', '.join(sorted(paged))}) even pending",
                             hint="its condition held on benign noise: one more blip and it pages"))
    if moved:
        broken.append(Broken(FalseAlarm, "; ".join(f"{k} rose {during} ({v})" for k, v in sorted(moved.items())),
                             expected=f"{', '.join(sorted(moved))} unchanged: the noise is no server fault",
                             hint="the platform counts what the noise does (a hang-up, a 4xx) as a server "
                                  "fault; count it in a metric of its own that no paging alert reads"))
    return broken


def _events(t: "Timeline", prefix: str) -> dict[str, str]:
    """alert -> severity, for the events `prefix<alert>` (the severity leads the detail)."""
    return {e.name[len(prefix):]: (e.detail.split() or [""])[0] for e in t.events if e.name.startswith(prefix)}


def _named(alerts: dict[str, str]) -> str:
    return ", ".join(f"{a} ({sev})" if sev else a for a, sev in sorted(alerts.items()))
