"""Remediations: the runbook's own actions, applied as the runbook writes them.

A new remediation is normally a new action in the runbook, picked by `RunbookAction(alert, match)`;
only a remediation the runbook describes in prose (entering new credentials into the EAs) is a
subclass of `Remediation` in its scenario.
"""
from __future__ import annotations

import os
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alertdrill.errors import InvestigationFailed
from alertdrill.proc import run as proc_run
from alertdrill.config import current as current_config

if TYPE_CHECKING:
    from alertdrill.engine.context import DrillContext


class Remediation(ABC):
    @abstractmethod
    def apply(self, ctx: "DrillContext") -> str:
        """Do it; return the command(s) as an operator would have typed them."""


class RunbookActionFailed(RuntimeError):
    """The runbook's command exited non-zero or ran past its timeout."""


@dataclass
class RunbookAction(Remediation):
    """One remediation action of the runbook's section for `alert`, run exactly as written (bash, from
    the project root (the configuration's directory), with the stack's compose variables in the environment). `match` picks the action
    by words of its title or commands, e.g. "restart redis". A runbook whose command is wrong makes
    the drill fail: that is the point."""

    alert: str
    match: str
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 120
    output: str = ""  # what the commands printed (e.g. a newly registered device's secret)

    def commands(self, ctx: "DrillContext") -> list[str]:
        try:
            section = ctx.runbook.section(self.alert)
        except KeyError as exc:
            raise InvestigationFailed(f"the runbook has no section for {self.alert}", seen=str(exc),
                                      hint=f"add a `### {self.alert}` section to {ctx.runbook.path}") from None
        want = self.match.lower()
        for action in section.actions:
            if want in action.title.lower() or any(want in c.lower() for c in action.commands):
                return action.commands
        titles = "; ".join(a.title or a.commands[0] for a in section.actions) or "none"
        raise InvestigationFailed(
            f"the runbook's {self.alert} section has no remediation action matching {self.match!r}",
            expected=f"a shell block under **Remediation** whose comment or command says {self.match!r}",
            seen=f"its actions: {titles}", hint=f"see {ctx.runbook.path}, section #{section.anchor}")

    def apply(self, ctx: "DrillContext") -> str:
        script = ctx.stack.follow("\n".join(self.commands(ctx)))  # the lane's names and ports (target.lane)
        env = {**os.environ, **ctx.stack.overrides, **self.env}
        try:
            proc = proc_run(["bash", "-euo", "pipefail", "-c", script], cwd=current_config().root, env=env,
                            timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            raise RunbookActionFailed(f"the runbook's action ran past {self.timeout:.0f}s and was stopped with its "
                                      f"whole process group:\n{script}\n{(exc.stderr or exc.stdout or '')[-800:]}") from None
        if proc.returncode != 0:
            raise RunbookActionFailed(f"the runbook's action failed ({proc.returncode}):\n{script}\n"
                                      f"{(proc.stderr or proc.stdout).strip()[-800:]}")
        self.output = proc.stdout
        return script
