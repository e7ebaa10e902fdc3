"""What `alertdrill check` reports and what it reads: a Problem (where, expected, found, what to change),
and the Project, the user's files loaded once for every check (the rules with their lines, the
Alertmanager configuration, the runbook and its promises)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from alertdrill.config import Config


@dataclass(frozen=True)
class Problem:
    """One thing that breaks a promise, or one that could not be checked (`not_checked`: shown, never a
    pass, and not counted as a problem)."""
    check: str  # the check that found it ("rules", "routing", ...)
    where: str  # file:line and the alert or key, or the runbook table and row
    expected: str
    found: str
    change: str  # what to change
    not_checked: bool = False

    def __str__(self) -> str:
        if self.not_checked:
            return f"{self.where}: not checked: {self.found} (wanted: {self.expected}). {self.change}"
        return f"{self.where}: expected {self.expected}; found {self.found}. Change: {self.change}"

    def as_dict(self) -> dict:
        return {"check": self.check, "where": self.where, "expected": self.expected, "found": self.found,
                "change": self.change, "not_checked": self.not_checked}


@dataclass
class Project:
    """The configured files, each read once. Reading failures are left to the checks that need the file
    (they report them as problems); the promises are None until the runbook's tables parse."""
    conf: Config
    factor: object = None  # the drill factor to check (None: alertdrill.alerting.timescale.DEFAULT_FACTOR)
    domains: dict[str, list[str]] = field(default_factory=dict)  # label -> every value the platform gives it

    def rel(self, path: Path | str | None) -> str:
        """A path as the user names it: relative to the configuration's directory when inside it."""
        if path is None:
            return "(none)"
        p = Path(path)
        try:
            return p.resolve().relative_to(self.conf.root.resolve()).as_posix()
        except ValueError:
            return str(p)

    @cached_property
    def rule_docs(self) -> dict[Path, dict]:
        """rule file -> its parsed document ({} when it does not parse: the promtool check names why)."""
        out = {}
        for path in self.conf.rules:
            try:
                doc = yaml.safe_load(path.read_text())
            except (OSError, yaml.YAMLError):
                doc = None
            out[path] = doc if isinstance(doc, dict) else {}
        return out

    @cached_property
    def rules(self) -> dict[str, dict]:
        """One rules document holding every alerting rule of every file (first of each name)."""
        groups = [g for doc in self.rule_docs.values() for g in doc.get("groups") or [] if isinstance(g, dict)]
        return {"groups": groups}

    def rule_file(self, alert: str) -> Path | None:
        for path, doc in self.rule_docs.items():
            if alert in alert_rules(doc):
                return path
        return None

    def rule_where(self, alert: str) -> str:
        """file:line of the alert's rule, and its name."""
        path = self.rule_file(alert)
        if path is None:
            return f"{', '.join(self.conf.rule_globs)} {alert}"
        return f"{self.rel(path)}:{rule_line(path.read_text(), alert)} {alert}"

    @cached_property
    def am(self) -> dict:
        try:
            doc = yaml.safe_load(self.conf.alertmanager.read_text())
        except (OSError, yaml.YAMLError):
            return {}
        return doc if isinstance(doc, dict) else {}

    @cached_property
    def runbook(self):
        """The parsed runbook, or None when it cannot be read or names no alert (the tables check says so)."""
        from alertdrill.runbook.parse import RunbookError, parse_runbook

        try:
            return parse_runbook(self.conf.runbook)
        except RunbookError:
            return None

    @cached_property
    def promises(self):
        """The runbook's promises, or None when its tables do not parse (the tables check says why)."""
        from alertdrill.runbook.parse import parse_runbook_text
        from alertdrill.runbook.promises import PromiseError, parse_promises

        try:
            text = self.conf.runbook.read_text(encoding="utf-8")
            return parse_promises(parse_runbook_text(text, self.conf.runbook))
        except (OSError, PromiseError, KeyError, ValueError):
            return None

    def index_row(self, alert: str) -> str:
        return f"{self.rel(self.conf.runbook)}, alert index, row {alert}"


def alert_rules(rules: dict) -> dict[str, dict]:
    """alert name -> rule (the first one of that name) of a rules document."""
    out: dict[str, dict] = {}
    for group in rules.get("groups") or []:
        for rule in (group.get("rules") if isinstance(group, dict) else None) or []:
            if isinstance(rule, dict) and "alert" in rule:
                out.setdefault(rule["alert"], rule)
    return out


def rule_labels(rule: dict) -> dict[str, str]:
    """The labels an alert of `rule` carries for sure: its name and the rule's own labels."""
    return {"alertname": rule["alert"], **{k: str(v) for k, v in (rule.get("labels") or {}).items()}}


def rule_line(text: str, alert: str) -> int:
    """The line of `- alert: <alert>` in a rule file's text (1 when not found)."""
    pattern = re.compile(rf"^\s*(?:-\s*)?alert:\s*[\"']?{re.escape(alert)}[\"']?\s*(?:#.*)?$")
    return next((n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)), 1)
