"""The runbook's promises, read from its tables: for each alert (the "Alert index") its severity,
threshold, `for`, routing labels, receivers and the alert it inhibits; for each receiver (the
"Notification timing" table) its Alertmanager timers; and the pipeline's scrape and evaluation
intervals. The rules, the routing and the drills are all judged against these, so the runbook people
read is the specification the suite checks.

    promises = parse_promises(parse_runbook())
    p = promises.alert("RedisDisconnected")
    p.threshold.holds(0.0)                 # True: "== 0"
    promises.timers["pagerduty"].group_wait_ms
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field

from alertdrill.alerting.durations import parse_ms
from alertdrill.runbook.parse import Runbook

_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
        "!=": operator.ne}
_THRESHOLD_RE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$")
_LINK_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_LABEL_RE = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
PAGED_BY_DEFAULT = frozenset({"critical"})  # a severity table without a `paged` column


class PromiseError(ValueError):
    """The runbook's tables are missing or malformed."""


@dataclass(frozen=True)
class Threshold:
    """A comparison ("> 1", "== 0"): the runbook's threshold of an alert, and the one a scenario shows."""
    op: str
    value: float

    @classmethod
    def parse(cls, text: str, where: str) -> "Threshold":
        found = cls.read(text)
        if found is None:
            raise PromiseError(f"{where}: threshold {text!r} is not a comparison like `> 1` or `== 0`")
        return found

    @classmethod
    def read(cls, text: str | None) -> "Threshold | None":
        """None for an empty or unreadable threshold (a chart then draws no line)."""
        m = _THRESHOLD_RE.match(text or "")
        return cls(m.group(1), float(m.group(2))) if m else None

    def holds(self, value: float | None) -> bool:
        """The value is on the alerting side (no data never is)."""
        return value is not None and _OPS[self.op](value, self.value)

    def healthy(self, value: float | None) -> bool:
        """Back on the healthy side: the signal is mitigated (no data is not)."""
        return value is not None and not _OPS[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass(frozen=True)
class Inhibition:
    target: str  # the alert silenced
    equal: tuple[str, ...]  # labels both must share


@dataclass(frozen=True)
class AlertPromise:
    alert: str
    severity: str
    threshold: Threshold
    window_ms: int  # the range its rates and ratios are taken over (0: a plain gauge)
    for_ms: int
    labels: dict[str, str]  # routing labels besides severity
    receivers: tuple[str, ...]  # in routing order
    inhibits: tuple[Inhibition, ...] = ()
    response_time: str = ""  # from the severity table


@dataclass(frozen=True)
class Delivery:
    """One way a receiver reaches people (the runbook's Receivers table): an integration (pagerduty,
    slack, email, webhook, ...) and where it goes (a channel, an address; free text for a service)."""
    integration: str
    to: str


@dataclass(frozen=True)
class RouteTimers:
    group_wait_ms: int
    group_interval_ms: int
    repeat_interval_ms: int


@dataclass(frozen=True)
class Promises:
    alerts: dict[str, AlertPromise]
    timers: dict[str, RouteTimers]  # receiver -> timers
    scrape_ms: int
    evaluation_ms: int
    source: str = ""
    severities: dict[str, str] = field(default_factory=dict)  # severity -> response time
    group_by: tuple[str, ...] = ()  # the labels notices are grouped by
    paged: frozenset[str] = PAGED_BY_DEFAULT  # the severities that page someone
    # receiver -> how it reaches people; empty when the runbook's Receivers table names no integration
    deliveries: dict[str, tuple[Delivery, ...]] = field(default_factory=dict)

    def alert(self, name: str) -> AlertPromise:
        try:
            return self.alerts[name]
        except KeyError:
            raise PromiseError(f"the runbook's alert index ({self.source}) has no row for {name}; it lists: "
                               f"{', '.join(self.alerts)}") from None

    def paging_receivers(self) -> frozenset[str]:
        """The receivers only alerts of a paged severity reach: a notice to them wakes someone. One that
        also gets an alert that does not page is a channel people read, not a pager."""
        paging = {r for a in self.alerts.values() if a.severity in self.paged for r in a.receivers}
        return frozenset(paging - {r for a in self.alerts.values() if a.severity not in self.paged
                                   for r in a.receivers})

    def receiver_timers(self, receiver: str) -> RouteTimers:
        try:
            return self.timers[receiver]
        except KeyError:
            raise PromiseError(f"the runbook's notification timing table ({self.source}) has no row for "
                               f"receiver {receiver}; it lists: {', '.join(self.timers)}") from None


def tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every Markdown table of `text`, keyed by the heading it sits under (rows as column -> cell, cells
    without backticks or link syntax). A second table under one heading gets the key "<heading> 2"."""
    out: dict[str, list[dict[str, str]]] = {}
    heading, lines = "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s\-:|]+\|$", lines[i + 1].strip()):
            cols = [_cell(c).lower() for c in line.strip().strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = [_cell(c) for c in lines[i].strip().strip("|").split("|")]
                rows.append(dict(zip(cols, cells)))
                i += 1
            key = heading if heading not in out else f"{heading} {sum(k.startswith(heading) for k in out) + 1}"
            out[key] = rows
            continue
        i += 1
    return out


def _cell(text: str) -> str:
    return _LINK_RE.sub(r"\1", text).replace("`", "").replace("**", "").strip()


def _need(found: dict, key: str, source: str, what: str) -> list[dict[str, str]]:
    if key not in found:
        raise PromiseError(f"the runbook {source} has no {what} table under a heading '{key}'")
    return found[key]


def _inhibitions(cell: str) -> tuple[Inhibition, ...]:
    """"HighAPILatency of the same `route`" -> Inhibition("HighAPILatency", ("route",))."""
    if not cell:
        return ()
    target = cell.split()[0]
    equal = tuple(w.strip(",.") for w in cell.split()[1:] if w.strip(",.") not in {"of", "the", "same", "and"})
    return (Inhibition(target, equal),)


def parse_promises(runbook: Runbook) -> Promises:
    source = str(runbook.path or "runbook")
    found = tables(runbook.text)
    levels = _need(found, "Severity levels", source, "severity")
    severities = {r["severity"]: r.get("response time", "") for r in levels}
    alerts = {}
    for row in _need(found, "Alert index", source, "alert index"):
        name = row["alert"]
        where = f"{source}, alert index, {name}"
        alerts[name] = AlertPromise(
            alert=name, severity=row["severity"], threshold=Threshold.parse(row["threshold"], where),
            window_ms=parse_ms(row["window"]) if row.get("window") else 0, for_ms=parse_ms(row["for"]), labels=dict(_LABEL_RE.findall(row.get("routing labels", ""))),
            receivers=tuple(r.strip() for r in row["receivers"].split(",") if r.strip()),
            inhibits=_inhibitions(row.get("inhibits", "")), response_time=severities.get(row["severity"], ""))
    timers = {r["receiver"]: RouteTimers(parse_ms(r["group_wait"]), parse_ms(r["group_interval"]),
                                         parse_ms(r["repeat_interval"]))
              for r in _need(found, "Notification timing", source, "notification timing")}
    grouping = {r["grouping"]: r["labels"] for r in _need(found, "Notification timing 2", source, "grouping")}
    stages = {r["stage"]: parse_ms(r["interval"]) for r in _need(found, "Notification timing 3", source,
                                                                   "pipeline (scrape, rule evaluation)")}
    return Promises(alerts=alerts, timers=timers, scrape_ms=stages["scrape"],
                    evaluation_ms=stages["rule evaluation"], source=source, severities=severities,
                    group_by=tuple(x.strip() for x in grouping.get("group by", "").split(",") if x.strip()),
                    paged=_paged(levels), deliveries=_deliveries(found.get("Receivers", [])))


def _deliveries(rows: list[dict[str, str]]) -> dict[str, tuple[Delivery, ...]]:
    """The Receivers table's rows that name an integration: receiver -> its deliveries, in table order."""
    out: dict[str, list[Delivery]] = {}
    for r in rows:
        if r.get("receiver") and r.get("integration"):
            out.setdefault(r["receiver"], []).append(Delivery(r["integration"].strip().lower(), r.get("to", "").strip()))
    return {k: tuple(v) for k, v in out.items()}


def _paged(levels: list[dict[str, str]]) -> frozenset[str]:
    """The severities whose `paged` cell says yes ("yes (on-call rotation)"); critical when the severity
    table has no such column."""
    if not any("paged" in r for r in levels):
        return PAGED_BY_DEFAULT
    return frozenset(r["severity"] for r in levels if r.get("paged", "").lower().startswith("yes"))
