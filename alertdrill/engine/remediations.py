"""Remediations: the runbook's own actions, applied as the runbook writes them."""
from __future__ import annotations

import os
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from alertdrill.target.clients import DockerClient
from alertdrill.engine.faults import set_env_values, write_env
from alertdrill.runbook.parse import parse_runbook
from alertdrill.project import PROJECT_ROOT
from alertdrill.target.stack import Stack


class Remediation(ABC):
    @abstractmethod
    def apply(self) -> str:
        """Do it; return the command(s) as an operator would have typed them."""


@dataclass
class ComposeRestart(Remediation):
    """`docker compose restart <service>` (the runbook's `docker-compose restart redis`)."""

    service: str
    stack: Stack

    def apply(self) -> str:
        self.stack.restart(self.service)
        return " ".join([*self.stack.command(), "restart", self.service])


@dataclass
class EditEnvAndRestart(Remediation):
    """The runbook's "update backend/.env, restart backend"."""

    service: str
    path: str
    settings: dict[str, str]
    stack: Stack
    docker: DockerClient

    def apply(self) -> str:
        code, text = self.docker.exec(self.service, ["cat", self.path])
        if code != 0:
            raise RuntimeError(f"cannot read {self.path} in {self.service}: {text.strip()}")
        write_env(self.docker, self.service, self.path, set_env_values(text, self.settings))
        self.stack.restart(self.service)
        edits = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"set {edits} in {self.service}:{self.path}; docker compose restart {self.service}"


@dataclass
class Shell(Remediation):
    """Any shell command line from the runbook, run on the host (e.g. a `docker exec ... psql` line)."""

    command: str
    timeout: float = 60

    def apply(self) -> str:
        proc = subprocess.run(self.command, shell=True, capture_output=True, text=True, timeout=self.timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"remediation `{self.command}` failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        return self.command


@dataclass
class RunbookAction(Remediation):
    """One remediation action of the runbook's section for `alert`, run exactly as written (bash, from
    the project root, with the stack's compose variables in the environment). `match` picks the action
    by words of its title or commands, e.g. "restart redis". A runbook whose command is wrong makes
    the drill fail: that is the point."""

    runbook: Path
    alert: str
    match: str
    stack: Stack
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 120

    def commands(self) -> list[str]:
        section = parse_runbook(self.runbook).section(self.alert)
        want = self.match.lower()
        for action in section.actions:
            if want in action.title.lower() or any(want in c.lower() for c in action.commands):
                return action.commands
        titles = "; ".join(a.title or a.commands[0] for a in section.actions) or "none"
        raise RuntimeError(f"the runbook's {self.alert} section ({self.runbook}) has no remediation action "
                           f"matching {self.match!r}; its actions: {titles}")

    output: str = ""  # what the commands printed (e.g. a newly registered device's secret)

    def apply(self) -> str:
        script = "\n".join(self.commands())
        env = {**os.environ, **self.stack.overrides, **self.env}
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=self.timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"the runbook's action failed ({proc.returncode}):\n{script}\n"
                               f"{(proc.stderr or proc.stdout).strip()[-800:]}")
        self.output = proc.stdout
        return script
