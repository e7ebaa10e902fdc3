"""Verdicts that are functions of what a drill recorded: its timeline (every notification of the alert,
per receiver and status) and its expectation. The runner records first and judges after, and every
verdict is evaluated, so a drill that breaks two promises names both: the first failure the drill met
stops it (a fire that never came, a cause that stayed), and these are added to it ("also broken: ...").

A new verdict is a function (timeline, expectation) -> the Broken promises it finds, listed in VERDICTS."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from alertdrill.errors import DrillError, NotificationMissing

if TYPE_CHECKING:
    from alertdrill.engine.expectation import AlertExpectation
    from alertdrill.engine.timeline import Timeline


@dataclass(frozen=True)
class Broken:
    """One promise a drill broke: the error it is, what happened, what was promised, what to try."""

    error: type[DrillError]
    what: str
    expected: str
    hint: str

    def raise_with(self, seen: str, others: list["Broken"]) -> None:
        raise self.error(self.what, expected=self.expected, seen=seen, hint=self.hint).also(
            [o.what for o in others])


Verdict = Callable[["Timeline", "AlertExpectation"], list[Broken]]


def reached_only_its_receivers(t: "Timeline", expect: "AlertExpectation") -> list[Broken]:
    """The alert reached no receiver the runbook does not name for it (a route to someone it should
    not page), firing or resolved."""
    extra = sorted({n["receiver"] for n in t.notifications if n.get("alert", expect.alertname) == expect.alertname}
                   - set(expect.receivers or ()))
    if not extra:
        return []
    return [Broken(NotificationMissing, f"{expect.alertname} also reached {extra}",
                   expected=f"notifications to exactly {sorted(expect.receivers or ())}",
                   hint="check the routes' matchers and `continue` flags in the Alertmanager config")]


VERDICTS: tuple[Verdict, ...] = (reached_only_its_receivers,)


def judge(t: "Timeline", expect: "AlertExpectation") -> list[Broken]:
    """Every verdict over the recorded timeline, in VERDICTS order: all that is broken."""
    return [b for verdict in VERDICTS for b in verdict(t, expect)]
