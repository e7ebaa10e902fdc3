"""promtool on the user's rules: `promtool check rules`, the configured unit tests (`rule_tests`), and
the boundary tests generated from the runbook's thresholds (alertdrill.adopt.check.boundaries), one test
file per alert in one `promtool test rules` call so each verdict names its alert."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import yaml

from alertdrill.adopt.check import boundaries
from alertdrill.adopt.check.model import Problem, Project, alert_rules

CHECK = "promtool"


def _promtool(project: Project, what: str):
    from alertdrill.alerting import promtools

    try:
        return promtools.promtool(), None
    except promtools.ToolNotFound as exc:
        return None, Problem(CHECK, ", ".join(project.conf.rule_globs), what, "promtool is not installed", str(exc),
                             not_checked=True)


def _tail(p) -> str:
    """What promtool said, short: the names of the failed test groups, else its last words."""
    names = re.findall(r"(?m)^\s*name:\s*(.+?),?\s*$", p.stderr)
    if names:
        return f"{len(names)} failed: " + "; ".join(dict.fromkeys(names))
    return " ".join((p.stdout + p.stderr).split())[-600:]


def check_rules(project: Project) -> list[Problem]:
    tool, missing = _promtool(project, "promtool check rules")
    if tool is None:
        return [missing]
    out = []
    for path in project.conf.rules:
        p = tool.run("check", "rules", path)
        if p.returncode != 0:
            out.append(Problem(CHECK, project.rel(path), "rules promtool check rules accepts", _tail(p),
                               "fix what promtool names"))
    return out


def rule_tests(project: Project) -> list[Problem]:
    """The configured promtool unit tests, each file from its own directory (its rule_files are relative)."""
    if not project.conf.rule_tests:
        return []
    tool, missing = _promtool(project, "promtool test rules on rule_tests")
    if tool is None:
        return [missing]
    out = []
    for path in project.conf.rule_tests:
        p = tool.run("test", "rules", path, cwd=path.parent, timeout=120)
        if p.returncode != 0:
            out.append(Problem(CHECK, project.rel(path), "every unit test passing", _tail(p),
                               "fix the rule, or the test if the promise changed"))
    return out


def boundary_tests(project: Project) -> list[Problem]:
    """Every alert with a generic boundary test is held to it; the others are named "not checked"."""
    promised = project.promises
    if promised is None:
        return []
    rules = alert_rules(project.rules)
    drives, out = {}, []
    for alert, p in promised.alerts.items():
        if alert not in rules:
            continue
        found = boundaries.derive(rules[alert], p, project.domains)
        if isinstance(found, str):
            out.append(Problem("boundaries", project.rule_where(alert), f"a boundary test of the threshold {p.threshold}",
                               found, "cover the threshold with rule_tests of your own (just above and just below)",
                               not_checked=True))
        else:
            drives[alert] = found
    if not drives:
        return out
    tool, missing = _promtool(project, "the boundary tests")
    if tool is None:
        return out + [missing]
    failed = run_boundaries(tool, project.conf.rules, boundaries.boundary_groups(promised, drives))
    return out + [Problem("boundaries", project.rule_where(alert),
                          f"fires just past the runbook's threshold {promised.alerts[alert].threshold} and is silent "
                          "just short of it", why, "make the rule's threshold (and `for`) the runbook's, or change "
                          "the runbook's row") for alert, why in failed.items()]


def run_boundaries(tool, rule_files, groups: list[dict]) -> dict[str, str]:
    """alert -> what failed (the group, and what promtool got), running every group in one test file."""
    with tempfile.TemporaryDirectory(prefix="alertdrill-check-") as tmp:
        path = Path(tmp) / "boundaries.yml"
        doc = {"rule_files": [str(Path(f).resolve()) for f in rule_files], "evaluation_interval": "1m", "tests": groups}
        path.write_text(yaml.safe_dump(doc, sort_keys=False, width=10_000))
        p = tool.run("test", "rules", path, cwd=tmp, timeout=120)
    if p.returncode == 0:
        return {}
    names = {(g["name"].split()[0], bool(g["promql_expr_test"][0]["exp_samples"])): g["name"] for g in groups}
    failed: dict[str, list[str]] = {}
    for block in re.split(r"(?m)^\s*expr:\s*", p.stderr)[1:]:
        alert = re.search(r'alertname=\\?"(\w+)', block)
        exp, got = re.search(r"exp:\s*(.*)", block), re.search(r"got:\s*(.*)", block)
        if not (alert and exp and got):
            continue
        fires = exp.group(1).strip() != "nil"
        name = names.get((alert.group(1), fires), alert.group(1))
        failed.setdefault(alert.group(1), []).append(f"'{name}' got {_count(got.group(1))} firing alert(s)")
    if not failed:  # the file itself was refused: every alert's verdict is unknown
        why = " ".join((p.stdout + p.stderr).split())[-400:]
        return {a: f"promtool refused the generated tests: {why}" for a, _f in names}
    return {a: "; ".join(lines) for a, lines in failed.items()}


def _count(got: str) -> str:
    """promtool's `got` of a count(): `nil` or `{} 2E+00`."""
    m = re.search(r"([0-9.]+E[+-]\d+)", got)
    return f"{float(m.group(1)):g}" if m else "0"
