"""`alertdrill affected --base REF` and pytest's `--affected-since REF`: the drills a change can affect, each
with why, so that a pull request runs those and not every drill.

What a change since REF (alertdrill.adopt.gitchanges: the merge base of REF and HEAD against the working
tree) selects:
- an alert's rule, the routes that deliver it, the receivers it reaches, an inhibit rule that matches it,
  its runbook section or index row (alertdrill.adopt.semantic compares what the two versions mean), or its
  scenario module: its drill; a notification template: every alert that reaches a receiver rendering
  templates; a shared runbook table: the alerts it reaches;
- every selected alert pulls in its inhibition partners (the runbook's `inhibits` and the inhibit rules);
- a scenario helper: the drills whose modules import it; a broken-alerting table: the drills of the rows
  that changed (or of every row, when the rest of it changed);
- the compose file, the Prometheus configuration, the configuration file, the engine, the locustfiles, a
  conftest.py, anything in a compose service's build context or bind mount: every drill;
- anything else (docs besides the runbook, the rules' own tests, a README): nothing.
A drill is its scenario's tests (every variant) and the broken-alerting rows of that scenario
(alertdrill.adopt.drillset). A quiet drill is selected by its own scenario, its helpers or what selects
every drill, not by the alerts it could touch. What the command prints: alertdrill.adopt.affected_report.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from alertdrill.adopt import affected_files, gitchanges, layout, semantic
from alertdrill.adopt.drillset import Drill, project_drills, pytest_args
from alertdrill.alerting.notifications import TemplateError, template_globs
from alertdrill.config import Config


@dataclass
class Affected:
    base: str
    merge_base: str
    changed: list[str]  # as git names them
    every: list[Drill]  # every drill of the project
    everything: list[str] = field(default_factory=list)  # why every drill is selected
    alerts: dict[str, list[str]] = field(default_factory=dict)  # alert -> why
    drills: dict[str, list[str]] = field(default_factory=dict)  # drill name -> why (besides its alert's)
    idle: list[str] = field(default_factory=list)  # changed files that select nothing, and why

    def add(self, alert: str, why: str) -> None:
        self.alerts.setdefault(alert, [])
        if why not in self.alerts[alert]:
            self.alerts[alert].append(why)

    def select(self, drill: Drill, why: str) -> None:
        """A drill for a reason of its own (its scenario): its alert (and so its partners), or itself."""
        if drill.alert:
            self.add(drill.alert, why)
        elif why not in self.drills.setdefault(drill.name, []):
            self.drills[drill.name].append(why)

    def reasons(self, drill: Drill) -> list[str]:
        own = (self.alerts.get(drill.alert, []) if drill.alert else []) + self.drills.get(drill.name, [])
        return own + (["every drill (see above)"] if self.everything else [])

    @property
    def selected(self) -> list[Drill]:
        return [d for d in self.every if self.reasons(d)]

    def undrilled(self) -> dict[str, list[str]]:
        """Selected alerts that no scenario drills."""
        drilled = {d.alert for d in self.every}
        return {a: why for a, why in self.alerts.items() if a not in drilled}

    def pytest_args(self, root: Path) -> list[str]:
        return pytest_args(self.selected, self.every, root, everything=bool(self.everything))

    def split(self, items: list, where) -> tuple[list, list]:
        """(kept, deselected) of pytest items: `where(item)` gives (path, name, is a drill). An item that is
        no drill is kept; a drill item is kept when a selected drill owns it."""
        chosen = self.selected
        keep, drop = [], []
        for item in items:
            path, name, is_drill = where(item)
            (keep if not is_drill or self.everything or any(d.owns(path, name) for d in chosen) else drop).append(item)
        return keep, drop


class _Change:
    """The configured project and the change, with what the steps share."""

    def __init__(self, conf: Config, changes: gitchanges.Changes):
        self.conf, self.changes = conf, changes
        self.mounts = layout.compose_mounts(conf.compose_file)

    def rel(self, path: Path) -> str:
        return self.changes.rel(path)

    def yaml_pair(self, path: Path) -> tuple[dict, dict]:
        return (semantic.load_yaml(self.changes.old(path), f"{self.rel(path)} at {self.changes.base}"),
                semantic.load_yaml(self.changes.new(path), f"{self.rel(path)} now"))

    @cached_property
    def templates(self) -> tuple[dict, list[str]]:
        """The routing now and its notification templates as globs here ([] when they cannot be told)."""
        path = self.conf.alertmanager
        try:
            am = semantic.load_yaml(self.changes.new(path), self.rel(path))
            return am, template_globs(am, path, layout.path_map(self.mounts))
        except (semantic.Unreadable, TemplateError):
            return {}, []

    def is_rule_file(self, path: Path) -> bool:
        patterns = [g if Path(g).is_absolute() else str(self.conf.root / g) for g in self.conf.rule_globs]
        return path in self.conf.rules or any(fnmatch.fnmatch(str(path), p) for p in patterns)

    @cached_property
    def labels(self) -> dict[str, dict[str, str]]:
        """alert -> its static labels, now (and at the base for an alert whose rule is gone)."""
        rule_paths = sorted(set(self.conf.rules) | {p for p in self.changes.paths if self.is_rule_file(p)})
        docs = [self.yaml_pair(p) for p in rule_paths]
        return {**semantic.alert_labels([old for old, _new in docs]), **semantic.alert_labels([n for _o, n in docs])}


def affected(conf: Config, base: str) -> Affected:
    """The drills of `conf`'s project that the change since `base` can affect. Raises
    gitchanges.BadBase (a ValueError) for a ref git does not know."""
    changes = gitchanges.since(conf.root, base)
    out = Affected(base, changes.merge_base, [changes.rel(p) for p in changes.paths], project_drills(conf))
    change = _Change(conf, changes)
    handled: set[Path] = set()
    for step in (_rules, _routing, _runbook):
        try:
            handled |= step(change, out)
        except semantic.Unreadable as exc:
            out.everything.append(f"{exc}: what changed cannot be told")
            handled |= set(changes.paths) & {conf.alertmanager, conf.runbook} | {
                p for p in changes.paths if change.is_rule_file(p)}
    for path in changes.paths:
        if path not in handled:
            affected_files.classify(change, path, out)
    out.everything = list(dict.fromkeys(out.everything))
    if not out.everything:
        _partners(change, out)
    return out


def _rules(change: _Change, out: Affected) -> set[Path]:
    paths = [p for p in change.changes.paths if change.is_rule_file(p)]
    if not paths:
        return set()
    pairs = [change.yaml_pair(p) for p in paths]
    found = semantic.rule_changes([o for o, _n in pairs], [n for _o, n in pairs])
    where = ", ".join(change.rel(p) for p in paths)
    for alert, why in found.items():
        out.add(alert, f"{why} in {where}")
    if not found:
        out.idle.append(f"{where}: no rule means anything else (comments or layout)")
    return set(paths)


def _routing(change: _Change, out: Affected) -> set[Path]:
    am = change.conf.alertmanager
    if am not in change.changes.paths:
        return set()
    old, new = change.yaml_pair(am)
    found = semantic.routing_changes(old, new, change.labels)
    for alert, why in found.items():
        out.add(alert, f"{why} in {change.rel(am)}")
    if not found:
        out.idle.append(f"{change.rel(am)}: no alert is routed, inhibited or delivered otherwise")
    return {am}


def _runbook(change: _Change, out: Affected) -> set[Path]:
    path = change.conf.runbook
    if path not in change.changes.paths:
        return set()
    old, new = (_parsed(change.changes.old(path), path), _parsed(change.changes.new(path), path))
    found = semantic.section_changes(old, new)
    promises = (_promises(old), _promises(new))
    if (promises[0] is None) != (promises[1] is None):
        side = "now" if promises[1] is None else f"at {change.changes.base}"
        out.everything.append(f"{change.rel(path)}: the runbook's promise tables do not parse {side}")
    elif promises[0] is not None:
        by_promise, every = semantic.promise_changes(*promises)
        found = {**by_promise, **found}
        if every:
            out.everything.append(f"{change.rel(path)}: {every}")
    for alert, why in found.items():
        out.add(alert, f"{why} ({change.rel(path)})")
    if not found and not out.everything:
        out.idle.append(f"{change.rel(path)}: no alert's section or promise changed (the text around them did)")
    return {path}


def _parsed(text: str | None, path: Path):
    from alertdrill.runbook.parse import parse_runbook_text

    return parse_runbook_text(text, path) if text is not None else None


def _promises(runbook):
    from alertdrill.runbook.promises import PromiseError, parse_promises

    try:
        return parse_promises(runbook) if runbook is not None else None
    except (PromiseError, KeyError, ValueError):
        return None


def _partners(change: _Change, out: Affected) -> None:
    """Every selected alert pulls in the alerts it inhibits or is inhibited by."""
    labels = change.labels
    am = change.conf.alertmanager
    pairs: dict[str, set[str]] = {}
    sources = [semantic.inhibit_partners(d, labels) for d in change.yaml_pair(am)] if am.exists() else []
    runbook = change.conf.runbook
    texts = (change.changes.old(runbook), change.changes.new(runbook)) if runbook in change.changes.paths else (
        change.changes.new(runbook),)
    sources += [semantic.promised_partners(p) for t in texts if (p := _promises(_parsed(t, runbook)))]
    for found in sources:
        for alert, partners in found.items():
            pairs.setdefault(alert, set()).update(partners)
    for alert in sorted(out.alerts):
        for partner in sorted(pairs.get(alert, set()) - set(out.alerts)):
            out.add(partner, f"inhibition partner of {alert}")
