"""A drill's noise: the notifications it put in front of people, counted from what the alert sink received
since the drill began (only this drill's alerts, by their run label, when the stack runs the drill copy).

- pages: firing notices to a paging receiver, one that only alerts of a paged severity reach (the
  runbook's severity table: alertdrill.runbook.promises.Promises.paging_receivers);
- messages: every other notice delivered (firing notices to channels, every resolved notice);
- duplicates: a firing notice of an alert instance to a receiver that has it firing already, no resolved
  notice in between (a repeat, or a group sent again as another alert joined it);
- flaps: a firing notice of an instance to a receiver after its resolved one: the alert fired again.

Duplicates and flaps are among the pages and messages, not beside them: delivered = pages + messages.
The figure goes on the timeline (`noise`) whatever the outcome; `--max-notifications N` fails a drill
that delivered more than N (check)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterable

from alertdrill.alerting.drillconfig import RUN_LABEL
from alertdrill.errors import TooNoisy

if TYPE_CHECKING:  # nothing from the engine, not even for types: timeline.py imports this module
    from alertdrill.target.clients.sink import Notification

FIELDS = ("pages", "messages", "duplicates", "flaps")
LEGEND = ("notices: pages (firing, to a receiver only paged severities reach, mail aside), msgs (every other notice); of "
          "them, dups (firing again, nothing resolved between) and flaps (firing again after resolving)")


@dataclass(frozen=True)
class Noise:
    pages: int = 0
    messages: int = 0
    duplicates: int = 0
    flaps: int = 0

    @property
    def delivered(self) -> int:
        return self.pages + self.messages

    @classmethod
    def read(cls, figures: dict | None) -> "Noise | None":
        """From a timeline's `noise`; None when it was not recorded (empty, or a timeline from before)."""
        return cls(**{k: int(figures.get(k) or 0) for k in FIELDS}) if figures else None

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def describe(self) -> str:
        """'2 pages, 3 msgs', then duplicates and flaps when there were any; 'none' when nothing came."""
        if not self.delivered:
            return "none"
        parts = [_n(self.pages, "page"), _n(self.messages, "msg")]
        parts += [_n(n, word) for n, word in ((self.duplicates, "dup"), (self.flaps, "flap")) if n]
        return ", ".join(parts)

    def spelled(self) -> str:
        """In words, for the report's drill section."""
        return (f"delivered {self.delivered}: {_n(self.pages, 'page')}, {_n(self.messages, 'message')}; among them "
                f"{_n(self.duplicates, 'duplicate')} and {_n(self.flaps, 'flap')}")


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(figures: dict | None) -> str:
    """A timeline's noise as the summaries show it; '-' when it was not recorded."""
    noise = Noise.read(figures)
    return "-" if noise is None else noise.describe()


def of_run(notices: Iterable["Notification"], run: str | None) -> list["Notification"]:
    """The notices of one drill's alerts: those labelled with its run; all of them when there is no run
    label (the stack runs the production rules, whose alerts carry none)."""
    return list(notices) if run is None else [n for n in notices if n.labels.get(RUN_LABEL) == run]


def run_label(d) -> str | None:
    """The drill's run label on its alerts; None when the stack runs the production rules, which carry
    none (the label is set only in the drill copy: alertdrill.engine.monitoring)."""
    return d.run_id if d.ctx.stack.overrides.get("ALERTDRILL_RULES_DIR") else None


def count(notices: Iterable["Notification"], paging: frozenset[str]) -> Noise:
    """The noise of `notices`, `paging` being the receivers whose firing notices are pages."""
    pages = messages = duplicates = flaps = 0
    last: dict[tuple, str] = {}  # (receiver, integration, alert instance) -> the status of its latest notice
    for n in sorted(notices, key=lambda n: n.received_at):
        key = (n.receiver, n.integration, frozenset(n.labels.items()))  # a page and its mail: two notices
        before, last[key] = last.get(key), n.status
        if n.status != "firing":
            messages += 1
            continue
        paged = n.receiver in paging and n.integration != "email"  # a page wakes someone; its mail copy does not
        pages += paged
        messages += not paged
        duplicates += before == "firing"
        flaps += before == "resolved"
    return Noise(pages, messages, duplicates, flaps)


def record(d) -> Noise | None:
    """Count what the drill `d` (alertdrill.engine.runner.DrillRun) delivered and keep it on its timeline.
    A figure, not a verdict: with the sink unreachable nothing is recorded, a line says so, and the
    drill's outcome stands."""
    run = run_label(d)
    try:
        notices = d.ctx.sink.notifications(since=d.started)
    except Exception as exc:  # noqa: BLE001 (nothing about the sink may fail or hide the drill's own result)
        d.report(f"  ! notices not counted: the alert sink did not answer ({exc})")
        return None
    noise = count(of_run(notices, run), d.ctx.promises.paging_receivers())
    d.timeline.noise = noise.as_dict()
    d.report(f"  notices delivered: {noise.describe()}")
    return noise


def check(timeline, limit: int | None) -> None:
    """The --max-notifications gate: TooNoisy when the drill of `timeline` (alertdrill.engine.timeline)
    delivered more than `limit` notices."""
    noise = Noise.read(timeline.noise)
    if limit is None or noise is None or noise.delivered <= limit:
        return
    raise TooNoisy(
        f"{timeline.scenario} delivered {noise.delivered} notifications ({noise.describe()}), over the gate "
        f"of {limit}",
        expected=f"at most {limit} notifications a drill (--max-notifications {limit})",
        seen=f"{noise.pages} pages, {noise.messages} messages; among them {noise.duplicates} duplicates "
             f"and {noise.flaps} flaps",
        hint="duplicates come from a repeat_interval shorter than the incident or a group sent again as alerts "
             "join it; flaps from an alert that resolves and fires again (a `for` too short for the signal); "
             "resolved notices count as messages. If this many notices is what the routing means to send, "
             "raise --max-notifications")
