"""Container state, logs and kills through the Docker SDK."""
from __future__ import annotations

import docker
from docker.errors import NotFound


class DockerClient:
    def __init__(self) -> None:
        self._client = docker.from_env()

    def close(self) -> None:
        self._client.close()

    def state(self, name: str) -> str:
        """running (healthy|unhealthy|starting) | exited | missing ..."""
        try:
            c = self._client.containers.get(name)
        except NotFound:
            return "missing"
        state = c.attrs["State"]
        health = state.get("Health", {}).get("Status")
        return f"{state['Status']} ({health})" if health else state["Status"]

    def states(self, names) -> dict[str, str]:
        return {n: self.state(n) for n in names}

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self._client.containers.get(name).kill(signal=signal)

    def logs(self, name: str, since: float | None = None, tail: int | str = "all") -> str:
        kwargs = {"tail": tail}
        if since is not None:
            kwargs["since"] = int(since)
        return self._client.containers.get(name).logs(**kwargs).decode(errors="replace")

    def exec(self, name: str, cmd: list[str] | str) -> tuple[int, str]:
        code, out = self._client.containers.get(name).exec_run(cmd)
        return code, out.decode(errors="replace")
