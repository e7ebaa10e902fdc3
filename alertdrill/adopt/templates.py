"""The text `alertdrill init` writes: the [tool.alertdrill] block and a skeleton scenario."""
from __future__ import annotations

import json
import re

_COMPARISON = re.compile(r"^(?P<watch>.*?)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<value>[-+]?[0-9.eE]+)\s*$", re.S)


def _toml(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))


def config_block(found: dict, *, services: dict[str, str], ports: dict[str, int], project: str) -> str:
    lines = ["# alertdrill (written by `alertdrill init`): paths are relative to this file.", "[tool.alertdrill]"]
    for key in ("compose_file", "rules", "alertmanager", "prometheus", "runbook"):
        if key in found:
            lines.append(f"{key} = {_toml(found[key])}")
    lines += [f"compose_project = {_toml(project)}", 'scenarios = "scenarios"', 'state_dir = ".alertdrill"',
              'rule_tests = []  # your promtool unit-test files (globs), e.g. ["tests/*_test.yml"]',
              'routing_tests = []  # YAML: alerts: {Name: {receivers: [...]}}',
              'mutation_tests = []']
    if services:
        lines += ["", "[tool.alertdrill.services]  # compose service (named as its container) -> its port variable"]
        lines += [f"{json.dumps(s)} = {_toml(v)}" for s, v in services.items()]
    if ports:
        lines += ["", "[tool.alertdrill.ports]  # the compose file's port variables; the environment overrides"]
        lines += [f"{k} = {v}" for k, v in ports.items()]
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


def scenario(alert: str, rule: dict, receivers: list[str], section, runbook_name: str) -> str:
    labels = {k: str(v) for k, v in (rule.get("labels") or {}).items()}
    severity = labels.pop("severity", "")
    expr = " ".join(str(rule.get("expr", "")).split())
    m = _COMPARISON.match(expr)
    watch, threshold = (m["watch"], f"{m['op']} {m['value']}") if m else (expr, "")
    action = section.actions[0] if section.actions else None
    remediate = (f"    d.remediate(RunbookAction({alert!r}, {action.title or action.commands[0]!r}))"
                 if action else "    # the runbook has no remediation commands yet: add them, then d.remediate(...)")
    return f'''"""{_docstring(alert, severity, section, runbook_name)}
"""
from __future__ import annotations

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
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
{remediate}
    d.expect_resolved()
    d.steady_state()


def test_{alert}(drill):
    drill(run, EXPECTATION)
'''
