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


def not_repeated_early(t: "Timeline", expect: "AlertExpectation") -> list[Broken]:
    """No receiver got the alert's firing notice again sooner than the runbook's repeat_interval for it,
    while nothing resolved in between: a repeat is a second page for one incident. A resolved notice is
    no repeat, nor is the firing notice after it (a flap: the alert fired again)."""
    early = []
    for receiver, repeat in sorted(t.repeat_after.items()):
        last: dict[str, dict] = {}  # per integration: a receiver's page and its mail are one notice each
        for n in sorted((n for n in t.notifications if n["receiver"] == receiver
                         and n.get("alert", expect.alertname) == expect.alertname), key=lambda n: n["at"]):
            before, last[n.get("integration", "")] = last.get(n.get("integration", "")), n
            if n["status"] == "firing" and before is not None and before["status"] == "firing" \
                    and n["at"] - before["at"] < repeat:
                via = f" by {n['integration']}" if n.get("integration") else ""
                early.append(f"{receiver}{via} again after {n['at'] - before['at']:.1f}s (repeat_interval {repeat:g}s)")
    if not early:
        return []
    return [Broken(NotificationMissing, f"{expect.alertname}'s firing notice was repeated early: {'; '.join(early)}",
                   expected="a firing notice repeated no sooner than the receiver's repeat_interval in the runbook",
                   hint="check repeat_interval (and group_interval) on the routes that deliver it; a repeat sooner "
                        "than the runbook's promise pages people twice for one incident")]


def delivered_as_promised(t: "Timeline", expect: "AlertExpectation") -> list[Broken]:
    """Each page, message and mail reached whom the runbook's Receivers table says, showed what people need
    (alert, severity, summary, runbook link), closed the incidents it opened, and Alertmanager failed to
    send none (alertdrill.engine.delivered recorded them)."""
    if not t.delivery_problems:
        return []
    return [Broken(NotificationMissing, f"{expect.alertname}'s notices did not reach people as the runbook promises: "
                   + "; ".join(t.delivery_problems),
                   expected="every promised integration delivered, to its channel or address, showing the alert, "
                            "its severity, its summary and its runbook link; every incident resolved; no failed "
                            "notification in Alertmanager",
                   hint="check the receivers and templates in the Alertmanager config against the runbook's "
                        "Receivers table; a failed notification names the error Alertmanager logged")]


VERDICTS: tuple[Verdict, ...] = (reached_only_its_receivers, not_repeated_early, delivered_as_promised)


def judge(t: "Timeline", expect: "AlertExpectation") -> list[Broken]:
    """Every verdict over the recorded timeline, in VERDICTS order: all that is broken."""
    return [b for verdict in VERDICTS for b in verdict(t, expect)]
