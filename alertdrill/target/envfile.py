"""A service's .env file inside its container: read it, change some settings, write it back exactly.
The one helper for every edit of a config file in a container (a fault's bad config, a guard's
snapshot, a remediation checked afterwards)."""
from __future__ import annotations

import base64
import shlex
from dataclasses import dataclass

from alertdrill.target.clients.docker import DockerClient


@dataclass(frozen=True)
class EnvFile:
    service: str
    path: str  # relative to the container's working directory, e.g. backend/.env

    def __str__(self) -> str:
        return f"{self.service}:{self.path}"

    def read(self, docker: DockerClient) -> str:
        code, text = docker.exec(self.service, ["cat", self.path])
        if code != 0:
            raise RuntimeError(f"cannot read {self.path} in {self.service}: {text.strip()}")
        return text

    def write(self, docker: DockerClient, text: str) -> None:
        # base64 keeps the bytes exact (no quoting, trailing newline or not)
        payload = base64.b64encode(text.encode()).decode()
        code, out = docker.exec(self.service, ["sh", "-c", f"echo {payload} | base64 -d > {shlex.quote(self.path)}"])
        if code != 0:
            raise RuntimeError(f"cannot write {self.path} in {self.service}: {out.strip()}")

    def set(self, docker: DockerClient, settings: dict[str, str]) -> str:
        """Change KEY=value settings in place; return the text as it was before."""
        before = self.read(docker)
        self.write(docker, set_env_values(before, settings))
        return before


def set_env_values(text: str, settings: dict[str, str]) -> str:
    """Replace KEY=... lines (or append them), keeping everything else as it was."""
    lines = text.splitlines()
    pending = dict(settings)
    for i, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in pending:
            lines[i] = f"{key}={pending.pop(key)}"
    lines.extend(f"{k}={v}" for k, v in pending.items())
    return "\n".join(lines) + "\n"
