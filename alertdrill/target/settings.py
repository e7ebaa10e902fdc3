"""Where the stack's services listen. The port defaults are the runbook's (PORT_DEFAULTS, the defaults of
alertdrill.config); the services are the user's alone (SERVICE_PORTS is empty); a user's
`[tool.alertdrill.ports]` and `[tool.alertdrill.services]` replace them, every default moves into the lane's block (alertdrill.target.lane),
and every port follows the same environment variable that the compose file reads, so the suite and the
stack agree."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from alertdrill.target.defaults import PORT_DEFAULTS, SERVICE_PORTS

__all__ = ["PORT_DEFAULTS", "SERVICE_PORTS", "Endpoints"]  # the defaults live with the lanes (defaults.py)


def __getattr__(name: str):
    """SERVICES: the configured compose services (alertdrill.config), looked up when asked for."""
    if name == "SERVICES":
        from alertdrill.config import current

        return tuple(current().services)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _port(name: str, env: dict[str, str], defaults: dict[str, int], lane: int) -> int:
    raw = env.get(name, "").strip() or str(defaults[name])
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a port number; use an integer 1-65535") from None
    if not 0 < port < 65536:
        moved = f" (its default moved into lane {lane}'s block)" if lane and name not in env else ""
        raise ValueError(f"{name}={port}{moved} is out of range; use 1-65535, or a lower lane")
    return port


@dataclass(frozen=True)
class Endpoints:
    ports: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Endpoints":
        from alertdrill.config import current
        from alertdrill.target import lane as lanes

        env = dict(os.environ if env is None else env)
        lane = lanes.current(env=env)
        defaults = lane.shift(current().ports)
        return cls({name: _port(name, env, defaults, lane.number) for name in defaults})

    def url(self, port_name: str) -> str:
        if port_name not in self.ports:
            from alertdrill.errors import ConfigError

            raise ConfigError(f"no port variable {port_name} is configured ([tool.alertdrill.ports] has "
                              f"{', '.join(sorted(self.ports)) or 'none'}): add it there if the platform runs "
                              f"that service")
        return f"http://127.0.0.1:{self.ports[port_name]}"

    @property
    def backend(self) -> str:
        return self.url("BACKEND_PORT")

    @property
    def prometheus(self) -> str:
        return self.url("PROMETHEUS_PORT")

    @property
    def alertmanager(self) -> str:
        return self.url("ALERTMANAGER_PORT")

    @property
    def sink(self) -> str:
        return self.url("ALERT_SINK_PORT")

    @property
    def toxiproxy(self) -> str:
        return self.url("TOXIPROXY_PORT")

    @property
    def postgres_dsn(self) -> str:
        """The platform's database ([tool.alertdrill] postgres_dsn, the lane's ports filled in): straight to
        Postgres, not through Toxiproxy, as the suite's own checks must see the truth."""
        from alertdrill.config import current, dsn

        return dsn(current(), self.ports)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['REDIS_PORT']}/0"
