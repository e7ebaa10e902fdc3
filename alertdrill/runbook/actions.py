"""Every remediation action of the runbook, drilled or checked: a drill that runs it in its situation
proves it works; an action no drill can cause is at least checked without running it:

- its commands parse (`bash -n`);
- each program it runs exists here;
- each service it names is one the section's investigation looks at, or its own comment names (an
  action for Redis that restarts the backend is acting on the wrong service).

    for a in action_report(runbook, drilled={("RedisDisconnected", "container gone")}, services=[...]):
        print(a.alert, a.title, "drilled" if a.drilled else "checked", a.problems)
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Iterable

from alertdrill.runbook.parse import Action, Runbook, RunbookSection

__all__ = ["ActionCheck", "action_report", "static_problems", "services_named"]

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_WORDS = {"if", "then", "else", "fi", "for", "do", "done", "while", "case", "esac", "!", "{", "}", "[", "[["}


@dataclass(frozen=True)
class ActionCheck:
    alert: str
    title: str
    commands: tuple[str, ...]
    drilled: bool  # a drill ran it in its own situation
    problems: tuple[str, ...] = ()  # what the static check found (empty: fine)

    @property
    def verdict(self) -> str:
        if self.drilled:
            return "drilled"
        return "checked statically" + (f": {'; '.join(self.problems)}" if self.problems else "")


def services_named(text: str, services: Iterable[str], *, prose: bool = False) -> set[str]:
    """The services (compose service or container names) `text` names as whole words; in prose
    ("Redis unreachable") whatever their case."""
    flags = re.I if prose else 0
    return {s for s in services if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text, flags)}


def _programs(command: str) -> list[str]:
    """The programs a command line runs: the first word of each pipeline stage (after VAR=value)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return []
    out, start = [], True
    for w in words:
        if w in ("|", "||", "&&", ";"):
            start = True
            continue
        if start and not _ASSIGNMENT.match(w) and w not in _SHELL_WORDS:
            out.append(w)
            start = False
    return out


def static_problems(section: RunbookSection, action: Action, services: Iterable[str],
                    which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """What is wrong with `action` without running it (see the module's docstring)."""
    script = "\n".join(action.commands)
    problems = []
    parsed = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True, timeout=10)
    if parsed.returncode != 0:
        problems.append(f"does not parse: {parsed.stderr.strip().splitlines()[-1] if parsed.stderr.strip() else '?'}")
    missing = sorted({p for c in action.commands for p in _programs(c) if "/" not in p and which(p) is None})
    problems += [f"runs {p}, which is not installed here" for p in missing]
    looked_at = services_named("\n".join(c for b in section.investigation_blocks for c in b.commands()), services) \
        | services_named(action.title, services, prose=True)
    strangers = sorted(services_named(script, services) - looked_at)
    if strangers:
        problems.append(f"acts on {', '.join(strangers)}, which neither the section's investigation nor the "
                        f"action's comment names")
    return problems


def action_report(runbook: Runbook, drilled: set[tuple[str, str]], services: Iterable[str],
                  which: Callable[[str], str | None] = shutil.which) -> list[ActionCheck]:
    """Every action of every alert's section, in runbook order: drilled when `drilled` holds (alert, a
    word of the title or a command it matches, as RunbookAction matches), else checked statically."""
    services = tuple(services)
    out = []
    for alert in runbook.alert_names():
        section = runbook.section(alert)
        matches = [m.lower() for a, m in drilled if a == alert]
        for action in section.actions:
            text = (action.title + "\n" + "\n".join(action.commands)).lower()
            ran = any(m in text for m in matches)
            problems = () if ran else tuple(static_problems(section, action, services, which))
            out.append(ActionCheck(alert, action.title, tuple(action.commands), ran, problems))
    return out
