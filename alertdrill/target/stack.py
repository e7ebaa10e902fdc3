"""Stack control: bring docker-compose.test.yml up (production or drill timings), report each
service's state, start/stop/restart a service, and take everything down.

The compose command line comes from testcontainers' compose wrapper and runs through alertdrill.proc (a
timeout and a process group on every call); the containers go through `self.docker` (the Docker SDK).
Faults, guards and checks reach Docker only through these two."""
from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testcontainers.compose import DockerCompose

from alertdrill.errors import ConfigError, StackError
from alertdrill.proc import run as proc_run
from alertdrill.target import lane as lanes
from alertdrill.target.clients.docker import APIError, DockerClient
from alertdrill.config import current as current_config
from alertdrill.target.settings import Endpoints


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    address: str
    state: str  # running | exited | missing ...
    health: str  # healthy | unhealthy | starting | "" (no healthcheck)

    @property
    def healthy(self) -> bool:
        return self.state == "running" and self.health == "healthy"


def engine_available() -> tuple[bool, str]:
    try:
        out = proc_run(["docker", "compose", "version"], timeout=20)
        if out.returncode != 0:
            return False, f"`docker compose` is not available: {out.stderr.strip()}"
        info = proc_run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
        if info.returncode != 0:
            return False, f"no Docker engine answers: {info.stderr.strip()[:200]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"docker is not usable: {exc}"
    return True, ""


UP_TIMEOUT_S = 900  # a first build on a new machine takes minutes; a hung build must still end


class _ProjectCompose(DockerCompose):
    """testcontainers' compose wrapper with the project name on every command (`-p NAME`)."""

    project_name: str = ""

    @property
    def compose_command_property(self) -> list[str]:  # type: ignore[override]
        cmd = DockerCompose.compose_command_property.func(self)  # type: ignore[attr-defined]
        return [*cmd[:2], "-p", self.project_name, *cmd[2:]] if self.project_name else cmd


class Stack:
    """One compose project (the configured compose file and project name, see alertdrill.config) in
    one lane (alertdrill.target.lane: project, container names, ports). `overrides` are compose
    interpolation variables (ports, the drill's rendered rules and Alertmanager directories, scrape and
    evaluation intervals); the lane's own are added to them, so the runbook's compose commands, run with
    them in the environment, reach this lane's stack. Implements alertdrill.target.control.StackControl."""

    def __init__(self, overrides: dict[str, str] | None = None, *, endpoints: Endpoints | None = None,
                 compose_file: Path | None = None, project: str | None = None) -> None:
        conf = current_config()
        self.overrides = dict(overrides or {})
        self.lane = lanes.current(conf.compose_project, env={**os.environ, **self.overrides})
        if self.lane.number and (clash := lanes.overlaps(conf.ports)):
            raise ConfigError(f"lane {self.lane.number}: the port block of one lane meets another's: "
                              + "; ".join(clash) + f". Move one of these ports under [tool.alertdrill.ports] "
                              f"(config: {conf.source or 'defaults'}) or run in lane 0")
        self.endpoints = endpoints or Endpoints.from_env({**os.environ, **self.overrides})
        self.compose_file = Path(compose_file or conf.compose_file)
        if not self.compose_file.is_file():
            raise ConfigError(f"[tool.alertdrill] compose_file: {self.compose_file} does not exist; expected the "
                              f"compose file of the platform and its monitoring (config: {conf.source or 'defaults'})")
        self.project = project or self.lane.project
        self.overrides = {**self.lane.compose_env(self.endpoints.ports, self.project), **self.overrides}
        self.services = dict(conf.services)  # compose service -> its port variable
        self._runbook_ports = {conf.ports[v]: self.endpoints.ports[v] for v in conf.ports if v in self.endpoints.ports}
        self._docker: DockerClient | None = None
        conf.state_dir.mkdir(parents=True, exist_ok=True)
        self.env_file = conf.state_dir / "stack.env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in sorted(self.overrides.items())))
        self._compose = _ProjectCompose(
            context=str(self.compose_file.parent),
            compose_file_name=self.compose_file.name,
            env_file=str(self.env_file),
            build=True,
            wait=True,
        )
        self._compose.project_name = self.project

    @property
    def docker(self) -> DockerClient:
        """The Docker SDK client for this stack's containers (made on first use: `up` checks the engine)."""
        if self._docker is None:
            self._docker = DockerClient(container=self.container)
        return self._docker

    def container(self, service: str) -> str:
        """The container of a compose service in this stack's lane (`backend`, `lane2-backend`)."""
        return self.lane.container(service)

    def follow(self, script: str) -> str:
        """The runbook's shell text as it must run against this stack: in lane 0 as written; in another
        lane with its container names and localhost ports (compose commands follow through overrides)."""
        return self.lane.follow(script, self.services, self._runbook_ports)

    def close(self) -> None:
        if self._docker is not None:
            self._docker.close()
            self._docker = None

    # -- compose commands -------------------------------------------------------------------
    def command(self) -> list[str]:
        """The compose command line, as a user would type it (for messages and remediations)."""
        return self._compose.docker_compose_command()

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [*self.command(), *args]
        try:
            proc = proc_run(cmd, cwd=self.compose_file.parent, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackError(f"`{' '.join(cmd)}` ran past {timeout:.0f}s and was stopped; is the Docker daemon "
                             "answering (`docker info`)?") from None
        if check and proc.returncode != 0:
            raise StackError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stderr.strip()[-2000:]}")
        return proc

    def up(self) -> None:
        ok, why = engine_available()
        if not ok:
            raise StackError(f"{why}\nHint: run `bash scripts/bootstrap.sh` (machines without Docker) "
                             "or start Docker, then retry.")
        # The compose CLI through proc.run, not testcontainers' start(): that one has no timeout.
        proc = self.compose("up", "--build", "--wait", timeout=UP_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            raise StackError(
                "the stack did not become healthy: `docker compose up --build --wait` failed.\n"
                f"{(proc.stderr or '').strip()[-1500:]}\n"
                f"{self.describe()}\n{self._unhealthy_logs()}"
                "Hint: `alertdrill stack status` shows each service; `docker logs <service>` shows why."
            )

    def down(self) -> None:
        """Remove containers, volumes and orphans of this project; nothing is left behind."""
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")

    def kill(self, service: str, signal: str = "SIGKILL") -> None:
        self.docker.kill(service, signal)

    def exec(self, service: str, cmd: list[str] | str) -> tuple[int, str]:
        return self.docker.exec(service, cmd)

    def exec_detached(self, service: str, cmd: list[str], *, environment: dict[str, str] | None = None) -> None:
        self.docker.exec_detached(service, cmd, environment=environment)

    def read_file(self, service: str, path: str) -> str:
        """A file in the service's container (relative to its working directory); RuntimeError if it
        cannot be read (a container going down answers the SDK with an APIError: the same to a caller)."""
        try:
            code, text = self.docker.exec(service, ["cat", path])
        except APIError as exc:
            raise RuntimeError(f"cannot read {path} in {service}: {exc}") from None
        if code != 0:
            raise RuntimeError(f"cannot read {path} in {service}: {text.strip()}")
        return text

    def write_file(self, service: str, path: str, text: str) -> None:
        """Write `text` to a file in the service's container, bytes exact (base64: no quoting, trailing
        newline or not)."""
        payload = base64.b64encode(text.encode()).decode()
        try:
            code, out = self.docker.exec(service, ["sh", "-c", f"echo {payload} | base64 -d > {shlex.quote(path)}"])
        except APIError as exc:
            raise RuntimeError(f"cannot write {path} in {service}: {exc}") from None
        if code != 0:
            raise RuntimeError(f"cannot write {path} in {service}: {out.strip()}")

    def started_at(self, services) -> dict[str, float | None]:
        return self.docker.started_at(services)

    def states(self, services) -> dict[str, str]:
        return self.docker.states(services)

    def logs(self, service: str, since: float | None = None, tail: int | str = "all") -> str:
        return self.docker.logs(service, since=since, tail=tail)

    def state(self, service: str) -> str:
        return self.docker.state(service)

    def restart(self, service: str) -> None:
        self.compose("restart", service)

    def stop(self, service: str) -> None:
        self.compose("stop", service)

    def start(self, service: str) -> None:
        self.compose("start", service)

    def remove(self, service: str) -> None:
        # Its anonymous volumes too (-v): a container gone leaves nothing behind to come back with.
        self.compose("rm", "--stop", "--force", "-v", service)

    def create(self, service: str) -> None:
        self.compose("up", "-d", "--no-deps", "--no-build", service)

    # -- state -------------------------------------------------------------------------------
    def status(self) -> list[ServiceStatus]:
        proc = self.compose("ps", "--all", "--format", "json", check=False)
        seen: dict[str, dict] = {}
        text = proc.stdout.strip()
        # compose 2.21+ prints one JSON object per line; older versions print one JSON array.
        rows = json.loads(text) if text.startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
        for row in rows:
            seen[row["Service"]] = row
        result = []
        for service, port_var in self.services.items():
            port = self.endpoints.ports[port_var]
            row = seen.get(service)
            result.append(ServiceStatus(
                service=service,
                address=f"127.0.0.1:{port}",
                state=row["State"] if row else "missing",
                health=(row.get("Health") or "") if row else "",
            ))
        return result

    def healthy(self) -> bool:
        return all(s.healthy for s in self.status())

    def describe(self) -> str:
        lines = [f"{'service':<17} {'address':<16} state"]
        for s in self.status():
            state = f"{s.state} ({s.health})" if s.health else s.state
            lines.append(f"{s.service:<17} {s.address:<16} {state}")
        return "\n".join(lines)

    def _unhealthy_logs(self, lines: int = 15) -> str:
        out = []
        for s in self.status():
            if not s.healthy and s.state != "missing":
                try:
                    logs = self.docker.logs(s.service, tail=lines)
                except Exception as exc:  # the message is for a failure report: say why, carry on
                    logs = f"(logs unavailable: {exc})"
                out.append(f"--- last {lines} log lines of {s.service} ---\n{logs.strip()}\n")
        return "\n".join(out)
