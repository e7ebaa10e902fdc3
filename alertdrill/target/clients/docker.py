"""Containers through the Docker SDK: state, logs, kill, exec. Every call has a timeout (the SDK's
HTTP timeout), so a hung daemon fails the drill instead of hanging it. Callers name compose services; the
client maps each to its container (`container`, the lane's names: alertdrill.target.lane)."""
from __future__ import annotations

from typing import Callable

import docker
from docker.errors import APIError, NotFound

from alertdrill.target.clients.timestamps import epoch

DOCKER_TIMEOUT_S = 60


class DockerClient:
    def __init__(self, timeout: float = DOCKER_TIMEOUT_S, *, container: Callable[[str], str] = str) -> None:
        self._client = docker.from_env(timeout=int(timeout))
        self._name = container  # service -> container name

    def _get(self, name: str):
        return self._client.containers.get(self._name(name))

    def close(self) -> None:
        self._client.close()

    def state(self, name: str) -> str:
        """running (healthy|unhealthy|starting) | exited | missing ..."""
        try:
            c = self._get(name)
        except NotFound:
            return "missing"
        return _describe(c.attrs["State"])

    def states(self, names) -> dict[str, str]:
        """The state of each named container, from one listing."""
        found = {c.name: _describe(c.attrs["State"]) for c in self._every_container()}
        return {n: found.get(self._name(n), "missing") for n in names}

    def _every_container(self) -> list:
        """Every container on the machine. The SDK lists, then inspects each: one removed in between (another
        lane's container, a preflight probe) is skipped rather than failing the listing with a 404."""
        return self._client.containers.list(all=True, ignore_removed=True)

    def running(self, name: str) -> bool:
        """Running and, if it has a health check, healthy."""
        state = self.state(name)
        return state.startswith("running") and "starting" not in state and "unhealthy" not in state

    def container(self, name: str):
        """The SDK's container object, or None when there is none of that name."""
        try:
            return self._get(name)
        except NotFound:
            return None

    def create_probe(self, image: str):
        """A container of `image` created and never started (to read the image's files); remove it after."""
        return self._client.containers.create(image, command=["true"], network_mode="none",
                                              labels={"alertdrill": "probe"})

    def ping(self) -> None:
        """Raises if the daemon does not answer."""
        self._client.ping()

    def started_at(self, names) -> dict[str, float | None]:
        """When each named container last started (epoch seconds); None if it is not running."""
        found = {c.name: c.attrs["State"] for c in self._every_container()}
        mine = {n: found.get(self._name(n)) for n in names}
        return {n: epoch(st["StartedAt"]) if st and st.get("Running") else None for n, st in mine.items()}

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self._get(name).kill(signal=signal)

    def logs(self, name: str, since: float | None = None, tail: int | str = "all") -> str:
        kwargs: dict = {"tail": tail}
        if since is not None:
            kwargs["since"] = int(since)
        return self._get(name).logs(**kwargs).decode(errors="replace")

    def exec(self, name: str, cmd: list[str] | str, *, environment: dict[str, str] | None = None) -> tuple[int, str]:
        """Run cmd in the container and wait for it: (exit code, stdout and stderr)."""
        code, out = self._get(name).exec_run(cmd, environment=environment)
        return code, out.decode(errors="replace")

    def exec_detached(self, name: str, cmd: list[str], *, environment: dict[str, str] | None = None) -> None:
        """Start cmd in the container and return at once (a long-running job; stop it from inside)."""
        self._get(name).exec_run(cmd, detach=True, environment=environment)


def _describe(state: dict) -> str:
    health = (state.get("Health") or {}).get("Status")
    return f"{state['Status']} ({health})" if health else state["Status"]


__all__ = ["DockerClient", "APIError", "NotFound"]
