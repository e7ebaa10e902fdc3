"""Faults: each injects one real failure, says what it did, and heals itself.

Like a Jepsen nemesis: `inject()` returns a description for the timeline, `heal()` is idempotent and
safe to call whatever state the fault left (the drill calls it in a finaliser, on failure, timeout
and Ctrl-C alike).
"""
from __future__ import annotations

import base64
import shlex
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from alertdrill.target.clients import DockerClient, ToxiproxyClient
from alertdrill.target.stack import Stack


class Fault(ABC):
    name: str = "fault"

    @abstractmethod
    def inject(self) -> str:
        """Break something for real; return what was done."""

    @abstractmethod
    def heal(self) -> str:
        """Undo it if it is still in effect; return what was done ('' if nothing was needed)."""


def _wait_running(docker: DockerClient, service: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = docker.state(service)
        if state.startswith("running") and "starting" not in state and "unhealthy" not in state:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{service} not healthy {timeout:.0f}s after healing: {docker.state(service)}")


@dataclass
class KillContainer(Fault):
    """`docker kill <service>`: the process dies at once (SIGKILL), as in a crash or OOM kill."""

    service: str
    stack: Stack
    docker: DockerClient
    signal: str = "SIGKILL"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"kill {self.service}"

    def inject(self) -> str:
        self.docker.kill(self.service, self.signal)
        return f"docker kill --signal {self.signal} {self.service} (state now: {self.docker.state(self.service)})"

    def heal(self) -> str:
        if self.docker.state(self.service).startswith("running"):
            return ""
        self.stack.start(self.service)
        _wait_running(self.docker, self.service)
        return f"started {self.service} again"


@dataclass
class StopContainer(KillContainer):
    """`docker compose stop <service>`: a clean shutdown (SIGTERM, then SIGKILL after the grace)."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"stop {self.service}"

    def inject(self) -> str:
        self.stack.stop(self.service)
        return f"docker compose stop {self.service} (state now: {self.docker.state(self.service)})"


@dataclass
class Toxic(Fault):
    """A Toxiproxy toxic on one link (latency, timeout, reset_peer, bandwidth, ...)."""

    proxy: str
    type: str
    attributes: dict
    toxiproxy: ToxiproxyClient
    stream: str = "downstream"
    toxic_name: str = field(default="")

    def __post_init__(self) -> None:
        self.toxic_name = self.toxic_name or f"alertdrill_{self.proxy}_{self.type}"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.type} toxic on {self.proxy}"

    def inject(self) -> str:
        self.toxiproxy.add_toxic(self.proxy, self.toxic_name, self.type, self.attributes, stream=self.stream)
        return f"toxiproxy: {self.type} {self.attributes} on {self.proxy} ({self.stream})"

    def heal(self) -> str:
        if not any(t["name"] == self.toxic_name for t in self.toxiproxy.toxics(self.proxy)):
            return ""
        self.toxiproxy.remove_toxic(self.proxy, self.toxic_name)
        return f"toxiproxy: removed {self.toxic_name}"


@dataclass
class CutLink(Fault):
    """Disable a Toxiproxy proxy: open connections are closed and new ones refused."""

    proxy: str
    toxiproxy: ToxiproxyClient

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"cut {self.proxy} link"

    def inject(self) -> str:
        self.toxiproxy.set_enabled(self.proxy, False)
        return f"toxiproxy: proxy {self.proxy} disabled"

    def heal(self) -> str:
        if self.toxiproxy.proxy(self.proxy)["enabled"]:
            return ""
        self.toxiproxy.set_enabled(self.proxy, True)
        return f"toxiproxy: proxy {self.proxy} enabled"


@dataclass
class EnvFileEdit(Fault):
    """Change settings in a service's .env inside its container and restart it (a bad deploy or a bad
    config push). Heal restores the file as it was and restarts."""

    service: str
    path: str  # relative to the container's working dir, e.g. backend/.env
    settings: dict[str, str]
    stack: Stack
    docker: DockerClient
    _original: str | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"edit {self.service}:{self.path}"

    def inject(self) -> str:
        code, text = self.docker.exec(self.service, ["cat", self.path])
        if code != 0:
            raise RuntimeError(f"cannot read {self.path} in {self.service}: {text.strip()}")
        self._original = text
        write_env(self.docker, self.service, self.path, set_env_values(text, self.settings))
        self.stack.restart(self.service)
        _wait_running(self.docker, self.service)
        changes = " ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"{self.path} in {self.service}: {changes}; docker compose restart {self.service}"

    def heal(self) -> str:
        if self._original is None:
            return ""
        code, current = self.docker.exec(self.service, ["cat", self.path])
        if code == 0 and current == self._original and self.docker.state(self.service).startswith("running"):
            return ""
        write_env(self.docker, self.service, self.path, self._original)
        self.stack.restart(self.service)
        _wait_running(self.docker, self.service)
        return f"restored {self.path} in {self.service} and restarted it"


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


def write_env(docker: DockerClient, service: str, path: str, text: str) -> None:
    # base64 keeps the bytes exact (no quoting, trailing newline or not)
    payload = base64.b64encode(text.encode()).decode()
    code, out = docker.exec(service, ["sh", "-c", f"echo {payload} | base64 -d > {shlex.quote(path)}"])
    if code != 0:
        raise RuntimeError(f"cannot write {path} in {service}: {out.strip()}")


@dataclass
class RunawayQuery(Fault):
    """A runaway maintenance job: a session that locks a table and then runs for a long time, so every
    query on that table waits while holding its pool connection. Run through psql in the postgres
    container, as an operator's job would be; heal terminates the session."""

    table: str
    stack: Stack
    seconds: int = 3600
    application_name: str = "alertdrill-runaway"
    _proc: subprocess.Popen | None = None

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"runaway query locking {self.table}"

    def _psql(self, sql: str) -> list[str]:
        return ["docker", "exec", "-e", f"PGAPPNAME={self.application_name}", "postgres",
                "psql", "-U", "postgres", "-d", "trading_signals", "-v", "ON_ERROR_STOP=1", "-c", sql]

    def inject(self) -> str:
        sql = (f"BEGIN; LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE; "
               f"SELECT pg_sleep({self.seconds}); COMMIT;")
        self._proc = subprocess.Popen(self._psql(sql), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._sessions():
                return f"psql session {self.application_name}: {sql}"
            if self._proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the runaway session did not start (psql exit {self._proc.poll()})")

    def _sessions(self) -> list[str]:
        sql = f"SELECT pid FROM pg_stat_activity WHERE application_name = '{self.application_name}'"
        out = subprocess.run(["docker", "exec", "postgres", "psql", "-U", "postgres", "-d", "trading_signals",
                              "-Atc", sql], capture_output=True, text=True)
        return out.stdout.split()

    def heal(self) -> str:
        pids = self._sessions()
        if pids:
            subprocess.run(["docker", "exec", "postgres", "psql", "-U", "postgres", "-d", "trading_signals", "-Atc",
                            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            f"WHERE application_name = '{self.application_name}'"], capture_output=True)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        return f"terminated runaway session(s) {', '.join(pids)}" if pids else ""


class EnvFileGuard(EnvFileEdit):
    """Not a fault: remembers a .env as it is now so that a remediation's edit of it (the runbook's
    "set X in backend/.env, restart") is undone when the drill ends, leaving the stack as it was."""

    def __init__(self, service: str, path: str, *, stack: Stack, docker: DockerClient) -> None:
        super().__init__(service, path, {}, stack, docker)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"guard {self.service}:{self.path}"

    def inject(self) -> str:
        code, text = self.docker.exec(self.service, ["cat", self.path])
        if code != 0:
            raise RuntimeError(f"cannot read {self.path} in {self.service}: {text.strip()}")
        self._original = text
        return f"remembered {self.path} in {self.service}"


class LoadFault(Fault):
    """Traffic that is itself the fault (a flood, a replay attack): starting the load is the injection,
    stopping it the heal. `load` is an alertdrill.load.LocustLoad."""

    def __init__(self, load, description: str) -> None:
        self.load, self.description = load, description

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"load {self.load.name}"

    def inject(self) -> str:
        self.load.start()
        return self.description

    def heal(self) -> str:
        if not self.load.running:
            return ""
        self.load.stop()
        return f"stopped load {self.load.name}"
