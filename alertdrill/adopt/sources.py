"""Read what a project has for its alerts, each from its own file and without running anything: the
rules, the promtool unit tests, the routing expectations, the mutation tests, the drill scenarios, the
runbook and the drills' timelines. Scenarios are read as source (ast), never imported."""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from alertdrill.config import Config
from alertdrill.runbook.parse import RunbookError, parse_runbook

PLACEHOLDER = "FaultNotWritten"  # what a scaffolded scenario raises until its fault is written


def _yaml(path: Path) -> dict:
    data = yaml.safe_load(path.read_text()) or {}
    return data if isinstance(data, dict) else {}


def alert_rules(conf: Config) -> dict[str, dict]:
    """alert name -> its rule (with `file`: where it is), in file order."""
    out: dict[str, dict] = {}
    for path in conf.rules:
        for group in _yaml(path).get("groups") or []:
            for rule in group.get("rules") or []:
                if rule.get("alert"):
                    out.setdefault(rule["alert"], {**rule, "file": path})
    return out


def unit_tests(conf: Config) -> dict[str, int]:
    """alert -> how many promtool unit-test cases expect it to fire (exp_alerts not empty)."""
    out: dict[str, int] = {}
    for path in conf.rule_tests:
        for group in _yaml(path).get("tests") or []:
            for case in group.get("alert_rule_test") or []:
                if case.get("exp_alerts"):
                    out[case["alertname"]] = out.get(case["alertname"], 0) + 1
    return out


def routing_tests(conf: Config) -> dict[str, list[str]]:
    """alert -> the receivers its routing test holds the routing to. A `routing_tests` entry is either a
    runbook whose alert index states each alert's receivers (the routing tests of this repository check
    the routing against it) or a YAML file `alerts: {Name: {receivers: [...]}}`, checked with
    `amtool config routes test --verify.receivers`."""
    out: dict[str, list[str]] = {}
    for path in conf.routing_tests:
        if path.suffix == ".md":
            out.update({a: list(p.receivers) for a, p in _promised(path).items() if p.receivers})
            continue
        for name, spec in (_yaml(path).get("alerts") or {}).items():
            if isinstance(spec, dict) and spec.get("receivers"):
                out[name] = list(spec["receivers"])
    return out


def _promised(runbook: Path) -> dict:
    from alertdrill.runbook.parse import parse_runbook
    from alertdrill.runbook.promises import parse_promises

    return parse_promises(parse_runbook(runbook)).alerts


# What the mutation tests declare (tests/rules/test_rules_mutation.py, rulekit.RULE_MUTATIONS): every
# alerting rule gets each of these, an alert carrying revenue_impact also loses that label, and every
# receiver its routing test names is dropped from its route once. The tests require all to be caught.
RULE_MUTATIONS = ("threshold raised", "threshold lowered", "comparison flipped", "severity changed",
                  "alert renamed", "for removed", "for one evaluation longer")


def mutation_tested(conf: Config) -> bool:
    return any(p.is_file() for p in conf.mutation_tests)


def declared_mutants(rule: dict, receivers: list[str]) -> int:
    """How many mutants of this alert the mutation tests declare (each must be caught for them to pass)."""
    revenue = "revenue_impact" in (rule.get("labels") or {})
    return len(RULE_MUTATIONS) + int(revenue) + len(receivers)


@dataclass(frozen=True)
class DrillFile:
    path: Path
    skeleton: bool  # scaffolded, its fault still a placeholder


def drills(conf: Config) -> dict[str, DrillFile]:
    """alert -> the scenario module whose AlertExpectation(alertname=...) or
    AlertExpectation.from_runbook("<alert>", ...) names it."""
    out: dict[str, DrillFile] = {}
    for path in sorted(conf.scenarios.glob("*.py")) if conf.scenarios.is_dir() else []:
        try:
            tree = ast.parse(path.read_text(), str(path))
        except SyntaxError:
            continue
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        for node in ast.walk(tree):
            alert = expected_alert(node)
            if alert:
                out.setdefault(alert, DrillFile(path, PLACEHOLDER in names))
    return out


def drilled_actions(conf: Config) -> set[tuple[str, str]]:
    """(alert, match) of every RunbookAction("<alert>", "<match>", ...) the scenarios run, read from their
    source (literal arguments only)."""
    out: set[tuple[str, str]] = set()
    for path in sorted(conf.scenarios.glob("*.py")) if conf.scenarios.is_dir() else []:
        try:
            tree = ast.parse(path.read_text(), str(path))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "RunbookAction"
                    and len(node.args) >= 2 and all(isinstance(a, ast.Constant) for a in node.args[:2])):
                out.add((str(node.args[0].value), str(node.args[1].value)))
    return out


def expected_alert(node: ast.AST) -> str | None:
    """The alert an AlertExpectation(...) or AlertExpectation.from_runbook(...) call names, if it is one."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    direct = isinstance(func, ast.Name) and func.id == "AlertExpectation" or \
        isinstance(func, ast.Attribute) and func.attr == "AlertExpectation"
    from_runbook = (isinstance(func, ast.Attribute) and func.attr == "from_runbook"
                    and getattr(func.value, "id", getattr(func.value, "attr", "")) == "AlertExpectation")
    if not (direct or from_runbook):
        return None
    named = [kw.value for kw in node.keywords if kw.arg == "alertname"] + node.args[:1]
    return next((v.value for v in named if isinstance(v, ast.Constant) and isinstance(v.value, str)), None)


@dataclass(frozen=True)
class RunbookEntry:
    anchor: str
    investigation: bool
    remediation: bool  # at least one shell action under Remediation


def runbook(conf: Config) -> dict[str, RunbookEntry]:
    try:
        rb = parse_runbook(conf.runbook)
    except RunbookError:
        return {}
    out = {}
    for name in rb.alert_names():
        sec = rb.section(name)
        out[name] = RunbookEntry(sec.anchor, bool(sec.subsections.get("Investigation", "").strip()),
                                 bool(sec.actions))
    return out


def last_passed(directory: Path) -> dict[str, datetime]:
    """alert -> when its drill last passed, from the timelines in `directory` (drills against deliberately
    broken alerting do not count)."""
    out: dict[str, datetime] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            t = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if t.get("outcome") not in ("ok", "passed") or t.get("broken_on_purpose") or not t.get("events"):
            continue
        at = datetime.fromtimestamp(max(e["at"] for e in t["events"]), timezone.utc)
        if t.get("alert") and (t["alert"] not in out or out[t["alert"]] < at):
            out[t["alert"]] = at
    return out
