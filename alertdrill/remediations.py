"""Remediations: the runbook's own actions, applied as the runbook writes them."""
from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass

from .clients import DockerClient
from .faults import set_env_values, write_env
from .stack import Stack


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
