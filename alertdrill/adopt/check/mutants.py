"""The mutation harness, `alertdrill check --mutants`: the checks run again against the user's own rules,
broken on purpose one change to one alert at a time. A change no check notices (a surviving mutant) is a
problem: the rules could drift that way and nothing would say so.

Changes: the threshold raised and lowered (x1.5, x0.5), the comparison turned round, `for` removed and
doubled, the severity swapped (critical <-> warning), the first range window doubled. Each mutant is a copy
of the one rule file it changes, under <state_dir>/mutants (the user's files are never written), checked by
every check that reads the rule files; the configured promtool unit tests are not among them, since they
name their own rule files (run them against a mutant yourself, or hold the promise in the runbook's tables).
"""
from __future__ import annotations

import copy
import dataclasses
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import yaml

from alertdrill.adopt.check.model import Problem, Project, rule_line
from alertdrill.alerting.comparison import split_threshold
from alertdrill.alerting.durations import format_ms, parse_ms
from alertdrill.config import Config

TURNED = {">": "<=", "<": ">=", ">=": "<", "<=": ">", "==": "!=", "!=": "=="}
SWAPPED = {"critical": "warning", "warning": "critical"}


@dataclass(frozen=True)
class Mutant:
    alert: str
    change: str  # "threshold x1.5"
    path: Path  # the rule file it changes
    text: str  # that file, changed


def _comparison(rule: dict, op: Callable[[str, str], tuple[str, str] | None]) -> dict | None:
    """The rule with its comparison against a constant rewritten by op(operator, constant), as written."""
    expr = str(rule.get("expr", ""))
    c = split_threshold(expr)
    new = op(c.op, c.constant) if c else None
    if c is None or new is None:
        return None
    changed, n = re.subn(rf"{re.escape(c.op)}(\s*){re.escape(c.constant)}(?![\w.])",
                         lambda m: f"{new[0]}{m.group(1)}{new[1]}", expr, count=1)
    return {**rule, "expr": changed} if n else None  # a constant on the left is left alone


def _scaled(factor: float) -> Callable[[dict], dict | None]:
    def scale(op: str, constant: str) -> tuple[str, str] | None:
        value = float(constant) * factor
        return None if float(constant) == 0 else (op, f"{value:g}")
    return lambda rule: _comparison(rule, scale)


def _for(rule: dict, factor: int) -> dict | None:
    ms = parse_ms(str(rule.get("for") or "0s"))
    if ms == 0:
        return None
    return {k: v for k, v in rule.items() if k != "for"} if factor == 0 else {**rule, "for": format_ms(ms * factor)}


def _severity(rule: dict) -> dict | None:
    labels = dict(rule.get("labels") or {})
    if labels.get("severity") not in SWAPPED:
        return None
    return {**rule, "labels": {**labels, "severity": SWAPPED[labels["severity"]]}}


def _window(rule: dict) -> dict | None:
    expr = str(rule.get("expr", ""))
    m = re.search(r"\[(\d+[smhdwy])(?::[^\]]*)?\]", expr)
    if not m:
        return None
    doubled = format_ms(parse_ms(m.group(1)) * 2)
    return {**rule, "expr": expr[:m.start(1)] + doubled + expr[m.end(1):]}


CHANGES: list[tuple[str, Callable[[dict], dict | None]]] = [
    ("threshold x1.5", _scaled(1.5)),
    ("threshold x0.5", _scaled(0.5)),
    ("comparison turned round", lambda r: _comparison(r, lambda op, c: (TURNED[op], c))),
    ("for removed", lambda r: _for(r, 0)),
    ("for doubled", lambda r: _for(r, 2)),
    ("severity swapped", _severity),
    ("window doubled", _window),
]


def mutants(conf: Config) -> Iterator[Mutant]:
    for path in conf.rules:
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue  # promtool check rules names it
        for gi, group in enumerate((doc or {}).get("groups") or []):
            for ri, rule in enumerate(group.get("rules") or []):
                if not isinstance(rule, dict) or "alert" not in rule:
                    continue
                for change, mutate in CHANGES:
                    new = mutate(copy.deepcopy(rule))
                    if new is None or new == rule:
                        continue
                    mutated = copy.deepcopy(doc)
                    mutated["groups"][gi]["rules"][ri] = new
                    yield Mutant(rule["alert"], change, path, yaml.safe_dump(mutated, sort_keys=False, width=10_000))


def survivors(conf: Config, checks: list, factor=None, domains: dict | None = None) -> tuple[list[Problem], int]:
    """(a problem per mutant no check noticed, how many mutants ran). `checks`: those that read the rules."""
    def failed(c: Config, renamed: tuple[str, str] = ("", "")) -> set[str]:
        project = Project(c, factor=factor, domains=dict(domains or {}))
        found = {str(p) for check in checks for p in check.run(project) if not p.not_checked}
        return {f.replace(*renamed) for f in found} if renamed[0] else found  # the copy named as the original

    baseline, rel = failed(conf), Project(conf).rel
    out, ran = [], 0
    work = conf.state_dir / "mutants"
    try:
        for i, m in enumerate(mutants(conf)):
            ran += 1
            copy_path = work / str(i) / m.path.name
            copy_path.parent.mkdir(parents=True, exist_ok=True)
            copy_path.write_text(m.text)
            mutated = dataclasses.replace(conf, rules=tuple(copy_path if p == m.path else p for p in conf.rules))
            if not failed(mutated, (rel(copy_path), rel(m.path))) - baseline:
                where = f"{rel(m.path)}:{rule_line(m.path.read_text(), m.alert)} {m.alert}"
                out.append(Problem("mutants", where, f"a check that notices '{m.change}'",
                                   f"the rules with '{m.change}' pass every check",
                                   "hold the rule to the runbook: its alert index row (threshold, window, for, "
                                   "severity) or a rule test that fails on the change"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out, ran
