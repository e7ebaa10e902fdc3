"""The text `alertdrill init` writes: the [tool.alertdrill] block and a skeleton scenario."""
from __future__ import annotations

import json
import textwrap

from alertdrill.alerting.comparison import split_threshold


def _toml(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def config_block(found: dict, *, compose, project: str, factor: tuple[int, str]) -> str:
    """[tool.alertdrill] as init writes it: the files found, the drill factor (and why that one), every
    compose service (those without a port variable commented out, saying what to add), the port variables."""
    lines = ["# alertdrill (written by `alertdrill init`): paths are relative to this file.", "[tool.alertdrill]"]
    for key in ("compose_file", "rules", "alertmanager", "prometheus", "runbook"):
        if key in found:
            lines.append(f"{key} = {_toml(found[key])}")
    lines += [f"compose_project = {_toml(project)}", f"drill_factor = {factor[0]}  # {factor[1]}",
              'scenarios = "scenarios"', 'state_dir = ".alertdrill"',
              'rule_tests = []  # your promtool unit-test files (globs), e.g. ["tests/*_test.yml"]',
              'routing_tests = []  # YAML: alerts: {Name: {receivers: [...]}}',
              'mutation_tests = []']
    if compose.services or compose.unported:
        lines += ["", "[tool.alertdrill.services]  # compose service (named as its container) -> its port variable"]
        lines += [f"{json.dumps(s)} = {_toml(v)}" for s, v in compose.services.items()]
        lines += [f"# {json.dumps(s)} = {_toml(var)}  # {why}" for s, (var, why) in compose.unported.items()]
    if compose.ports:
        lines += ["", "[tool.alertdrill.ports]  # the compose file's port variables; the environment overrides"]
        lines += [f"{k} = {v}" for k, v in compose.ports.items()]
    return "\n".join(lines) + "\n"


def _docstring(alert: str, severity: str, section, runbook_name: str) -> str:
    symptoms = " ".join(section.subsections.get("Symptoms", "").split()) or "(the runbook names no symptoms)"
    parts = [f"{alert} ({severity}): {symptoms}", "",
             f"Runbook ({runbook_name}#{section.anchor}), as this drill follows it:"]
    inv = [c for b in section.investigation_blocks for c in b.commands()]
    parts.append("  investigation: " + ("; ".join(f"`{c}`" for c in inv) or
                                         " ".join(section.subsections.get("Investigation", "").split()) or "none"))
    for a in section.actions:
        parts.append(f"  remediation \"{a.title}\": " + "; ".join(f"`{c}`" for c in a.commands))
    parts += ["", "Scaffolded by `alertdrill init`. Write the fault in run() and delete the FaultNotWritten line."]
    return "\n".join(parts).replace('"""', "'''").replace("\\", "\\\\")


def investigation(alert: str, section) -> tuple[list[str], list[str]]:
    """The runbook section's investigation as a drill runs it: one d.investigate(...) per command (titled by
    the comment above it) and per SQL statement, each run as written; prose becomes TODO lines quoting it.
    (The lines of run(), the evidence helpers they import.)"""
    lines, helpers = [], []
    for block in section.investigation_blocks:
        if block.is_shell:
            for action in block.actions():
                for command in action.commands:
                    lines.append(f"    d.investigate({(action.title or command)[:80]!r}, "
                                 f"lambda: runbook_command(ctx, {alert!r}, {command!r}))")
                    helpers.append("runbook_command")
        elif block.lang.lower() in ("sql", "psql"):
            for statement in (s.strip() for s in block.text.split(";") if s.strip() and not s.strip().startswith("--")):
                first = statement.splitlines()[0].strip()
                lines.append(f"    d.investigate({first[:80]!r}, lambda: runbook_sql(ctx, {alert!r}, {first!r}))")
                helpers.append("runbook_sql")
    if lines:
        lines.append("    # TODO: hold what they print to the fault: alertdrill.errors.require_evidence(...)")
    else:
        prose = " ".join(section.subsections.get("Investigation", "").split()) or "(none)"
        lines = [f"    # TODO: the runbook's investigation has no command to run: {line}"
                 for line in textwrap.wrap(prose, 90)[:6]]
        lines.append("    # write it as a ```bash block in the runbook, then: d.investigate(\"...\", lambda: "
                     f"runbook_command(ctx, {alert!r}, \"<the command>\"))")
    return lines, list(dict.fromkeys(helpers))


def scenario(alert: str, rule: dict, receivers: list[str], section, runbook_name: str) -> str:
    labels = {k: str(v) for k, v in (rule.get("labels") or {}).items()}
    severity = labels.pop("severity", "")
    expr = " ".join(str(rule.get("expr", "")).split())
    found = split_threshold(expr)
    watch, threshold = (found.watch, found.threshold) if found else (expr, "")
    action = section.actions[0] if section.actions else None
    remediate = (f"    d.remediate(RunbookAction({alert!r}, {action.title or action.commands[0]!r}))"
                 if action else "    # the runbook has no remediation commands yet: add them, then d.remediate(...)")
    steps, helpers = investigation(alert, section)
    investigate = "\n".join(steps)
    evidence = f"from alertdrill.engine.evidence import {', '.join(helpers)}\n" if helpers else ""
    return f'''"""{_docstring(alert, severity, section, runbook_name)}
"""
from __future__ import annotations

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
{evidence}from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.remediations import RunbookAction
from alertdrill.errors import FaultNotWritten

pytestmark = pytest.mark.drill

EXPECTATION = AlertExpectation(
    alertname={alert!r},
    severity={severity!r},
    receivers=frozenset({sorted(receivers)!r}),
    labels={ {k: v for k, v in labels.items() if k in ("route", "endpoint", "service", "job")}!r},
    watch={watch!r},
    threshold={threshold!r},
)


def run(d: Drill, ctx: DrillContext) -> None:
    d.steady_state()
    # The fault: break the platform so that `{expr}` holds, e.g.
    #   from alertdrill.engine.faults import StopContainer
    #   d.inject(StopContainer("<service>"))
    raise FaultNotWritten({alert!r}, {expr!r}, __file__)
    d.expect_firing()
{investigate}
{remediate}
    d.expect_resolved()
    d.steady_state()


def test_{alert}(drill):
    drill(run, EXPECTATION)
'''
