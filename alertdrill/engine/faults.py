"""Faults: each injects one real failure, says what it did, and heals itself.

A new fault goes here (or, if only one scenario uses it, in that scenario's module): a subclass of
`Fault` with `inject(ctx)` and `heal(ctx)`.

Like a Jepsen nemesis, a fault gets the drill's context at call time (`ctx.stack`, `ctx.toxiproxy`,
`ctx.endpoints`), not at construction, so the same fault runs against any target: `ctx.stack` is a
StackControl (alertdrill.target.control), the compose Stack here, a Kubernetes target elsewhere.
`inject` returns a description for the timeline; `heal` is idempotent, safe to call whatever state
the fault left (the drill calls it in a finaliser, on failure, timeout and Ctrl-C alike), returns what
it did ('' if nothing was needed), and checks that it worked: a heal that could not verify raises.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, TypeVar

from psycopg.conninfo import conninfo_to_dict

from alertdrill.target.envfile import EnvFile
from alertdrill.wait import until

if TYPE_CHECKING:
    from alertdrill.engine.context import DrillContext

HEALTHY_TIMEOUT_S = 90
# An interrupted `docker compose restart` goes on in the daemon: its stop timeout (10 s) and a start.
RESTART_SETTLE_S = 30
T = TypeVar("T")


class Fault(ABC):
    name: str = "fault"

    @abstractmethod
    def inject(self, ctx: "DrillContext") -> str:
        """Break something for real; return what was done."""

    @abstractmethod
    def heal(self, ctx: "DrillContext") -> str:
        """Undo it if it is still in effect; return what was done ('' if nothing was needed)."""


def wait_healthy(ctx: "DrillContext", service: str, timeout: float = HEALTHY_TIMEOUT_S) -> None:
    def fail() -> None:
        raise RuntimeError(f"{service} not healthy {timeout:.0f}s after (re)starting it: {ctx.stack.state(service)}")

    until(lambda: _running(ctx, service), timeout, on_timeout=fail)


def _running(ctx: "DrillContext", service: str) -> bool:
    """Running and, if it has a health check, healthy (the target's words, alertdrill.target.control)."""
    state = ctx.stack.state(service)
    return state.startswith("running") and "starting" not in state and "unhealthy" not in state


@dataclass
class KillContainer(Fault):
    """`docker kill <service>`: the process dies at once (SIGKILL), as in a crash or OOM kill."""

    service: str
    signal: str = "SIGKILL"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"kill {self.service}"

    def inject(self, ctx: "DrillContext") -> str:
        ctx.stack.kill(self.service, self.signal)
        return f"kill --signal {self.signal} {self.service} (state now: {ctx.stack.state(self.service)})"

    def heal(self, ctx: "DrillContext") -> str:
        if _running(ctx, self.service):
            return ""
        done = self.bring_back(ctx)
        wait_healthy(ctx, self.service)
        return f"{done} {self.service} again"

    def bring_back(self, ctx: "DrillContext") -> str:
        """Make the service run again as its situation allows; what was done, as a past participle."""
        ctx.stack.start(self.service)
        return "started"


@dataclass
class StopContainer(KillContainer):
    """`docker compose stop <service>`: a clean shutdown (SIGTERM, then SIGKILL after the grace)."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"stop {self.service}"

    def inject(self, ctx: "DrillContext") -> str:
        ctx.stack.stop(self.service)
        return f"stop {self.service} (state now: {ctx.stack.state(self.service)})"


@dataclass
class RemoveContainer(KillContainer):
    """The container gone (`docker compose rm --stop`), as after a host was rebuilt or someone cleaned up:
    `start` cannot bring it back, only creating it again from its definition."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"remove {self.service}"

    def inject(self, ctx: "DrillContext") -> str:
        ctx.stack.remove(self.service)
        return f"removed {self.service} (state now: {ctx.stack.state(self.service)})"

    def bring_back(self, ctx: "DrillContext") -> str:
        ctx.stack.create(self.service)
        return "created"


@dataclass
class Toxic(Fault):
    """A Toxiproxy toxic on one link (latency, timeout, reset_peer, bandwidth, ...)."""

    proxy: str
    type: str
    attributes: dict
    stream: str = "downstream"
    toxic_name: str = field(default="")

    def __post_init__(self) -> None:
        self.toxic_name = self.toxic_name or f"alertdrill_{self.proxy}_{self.type}"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.type} toxic on {self.proxy}"

    def inject(self, ctx: "DrillContext") -> str:
        ctx.toxiproxy.add_toxic(self.proxy, self.toxic_name, self.type, self.attributes, stream=self.stream)
        return f"toxiproxy: {self.type} {self.attributes} on {self.proxy} ({self.stream})"

    def _present(self, ctx: "DrillContext") -> bool:
        return any(t["name"] == self.toxic_name for t in ctx.toxiproxy.toxics(self.proxy))

    def heal(self, ctx: "DrillContext") -> str:
        if not self._present(ctx):
            return ""
        ctx.toxiproxy.remove_toxic(self.proxy, self.toxic_name)
        if self._present(ctx):
            raise RuntimeError(f"toxic {self.toxic_name} is still on {self.proxy} after removing it")
        return f"toxiproxy: removed {self.toxic_name}"


@dataclass
class CutLink(Fault):
    """Disable a Toxiproxy proxy: open connections are closed and new ones refused."""

    proxy: str

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"cut {self.proxy} link"

    def inject(self, ctx: "DrillContext") -> str:
        ctx.toxiproxy.set_enabled(self.proxy, False)
        return f"toxiproxy: proxy {self.proxy} disabled"

    def heal(self, ctx: "DrillContext") -> str:
        if ctx.toxiproxy.proxy(self.proxy)["enabled"]:
            return ""
        ctx.toxiproxy.set_enabled(self.proxy, True)
        if not ctx.toxiproxy.proxy(self.proxy)["enabled"]:
            raise RuntimeError(f"proxy {self.proxy} is still disabled after enabling it")
        return f"toxiproxy: proxy {self.proxy} enabled"


@dataclass
class EnvFileEdit(Fault):
    """Change settings in a service's .env inside its container and restart it (a bad deploy or a bad
    config push). Heal restores the file as it was and restarts."""

    service: str
    path: str  # relative to the container's working dir, e.g. backend/.env
    settings: dict[str, str]
    _original: str | None = None

    @property
    def file(self) -> EnvFile:
        return EnvFile(self.service, self.path)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"edit {self.file}"

    def inject(self, ctx: "DrillContext") -> str:
        self._original = self.file.set(ctx.stack, self.settings)
        ctx.stack.restart(self.service)
        wait_healthy(ctx, self.service)
        changes = " ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"{self.path} in {self.service}: {changes}; docker compose restart {self.service}"

    def heal(self, ctx: "DrillContext") -> str:
        return restore_env_file(ctx, self.file, self._original)


def restore_env_file(ctx: "DrillContext", file: EnvFile, original: str | None) -> str:
    """Put `original` back into `file` and restart its service, unless it is already as it was."""
    if original is None:
        return ""
    # A drill interrupted during the runbook's `docker compose restart` leaves that restart to finish in
    # the daemon: the file is read and written once the service is up again, and again if the restart took
    # the container down under the read or the write, never into a container that is going down.
    wait_healthy(ctx, file.service)
    if _through_restart(ctx, file.service, lambda: file.read(ctx.stack)) == original and \
            _running(ctx, file.service):
        return ""
    _through_restart(ctx, file.service, lambda: file.write(ctx.stack, original))
    ctx.stack.restart(file.service)
    wait_healthy(ctx, file.service)
    if file.read(ctx.stack) != original:
        raise RuntimeError(f"{file} differs from its original after restoring it")
    return f"restored {file} and restarted {file.service}"


def _through_restart(ctx: "DrillContext", service: str, action: Callable[[], T]) -> T:
    """`action` on the service; if it fails while a restart is in flight (the container going down under
    it), once more after the service is back. A failure with no restart within the restart's own stop
    timeout is a real one, and raised."""
    started = ctx.stack.started_at([service])[service]
    try:
        return action()
    except RuntimeError:
        def restarted() -> bool:
            now = ctx.stack.started_at([service])[service]
            return now is not None and now != started and _running(ctx, service)

        if not until(restarted, RESTART_SETTLE_S, poll=0.5, on_timeout=lambda: False):
            raise
    return action()


@dataclass
class RunawayQuery(Fault):
    """A runaway maintenance job: a session that locks a table and then runs for a long time, so every
    query on that table waits while holding its pool connection. Run through psql in the postgres
    container, as an operator's job would be; heal terminates the session."""

    table: str
    seconds: int = 3600
    application_name: str = "alertdrill-runaway"
    start_timeout_s: float = 15

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"runaway query locking {self.table}"

    @staticmethod
    def _login(ctx: "DrillContext") -> list[str]:
        """psql's user and database: those of [tool.alertdrill] postgres_dsn."""
        conn = conninfo_to_dict(ctx.endpoints.postgres_dsn)
        return ["-U", str(conn.get("user", "postgres")), "-d", str(conn.get("dbname", "postgres"))]

    def _psql(self, ctx: "DrillContext", sql: str) -> str:
        code, out = ctx.stack.exec("postgres", ["psql", *self._login(ctx), "-Atc", sql])
        if code != 0:
            raise RuntimeError(f"psql in postgres failed ({code}): {out.strip()[-300:]}")
        return out

    def _sessions(self, ctx: "DrillContext") -> list[str]:
        return self._psql(ctx, "SELECT pid FROM pg_stat_activity "
                               f"WHERE application_name = '{self.application_name}'").split()

    def inject(self, ctx: "DrillContext") -> str:
        sql = (f"BEGIN; LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE; "
               f"SELECT pg_sleep({self.seconds}); COMMIT;")
        ctx.stack.exec_detached("postgres", ["psql", *self._login(ctx), "-c", sql],
                                 environment={"PGAPPNAME": self.application_name})

        def fail() -> None:
            raise RuntimeError(f"the runaway session did not start within {self.start_timeout_s:.0f}s")

        until(lambda: self._sessions(ctx), self.start_timeout_s, poll=0.2, on_timeout=fail)
        return f"psql session {self.application_name}: {sql}"

    def heal(self, ctx: "DrillContext") -> str:
        pids = self._sessions(ctx)
        if not pids:
            return ""
        self._psql(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE application_name = '{self.application_name}'")

        def fail() -> None:
            raise RuntimeError(f"runaway session(s) {self._sessions(ctx)} survived pg_terminate_backend")

        until(lambda: not self._sessions(ctx), 10, poll=0.2, on_timeout=fail)
        return f"terminated runaway session(s) {', '.join(pids)}"


class LoadFault(Fault):
    """Traffic that is itself the fault (a flood, a replay attack): starting the load is the injection,
    stopping it the heal. `load` is an alertdrill.load.locust.LocustLoad or an alertdrill.load.paced.Paced
    (not started: the injection starts it)."""

    def __init__(self, load, description: str) -> None:
        self.load, self.description = load, description

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"load {self.load.name}"

    def inject(self, ctx: "DrillContext") -> str:
        self.load.start()
        return self.description

    def heal(self, ctx: "DrillContext") -> str:
        if not self.load.running:
            return ""
        self.load.stop()
        return f"stopped load {self.load.name}"


__all__ = ["Fault", "KillContainer", "StopContainer", "Toxic", "CutLink", "EnvFileEdit", "RunawayQuery",
           "LoadFault", "wait_healthy", "restore_env_file"]
