"""What the configuration is validated against, importing nothing else of the suite: the lane numbers and
the runbook's default ports. alertdrill.target.lane and alertdrill.target.settings build on it;
alertdrill.config reads it, so the three never import each other in a circle."""
from __future__ import annotations

from alertdrill.errors import ConfigError

ENV_VAR = "ALERTDRILL_LANE"
LANES = range(0, 10)
PORT_STEP = 100  # lane N moves every default port by N * PORT_STEP

PORT_DEFAULTS = {
    "BACKEND_PORT": 8000,
    "SIGNAL_GENERATOR_PORT": 8001,
    "VENDOR_PORT": 8081,
    "ALERT_SINK_PORT": 9095,
    "ALERT_SINK_SMTP_PORT": 9025,  # the sink's SMTP receiver: Alertmanager's mail in a drill
    "POSTGRES_PORT": 5432,
    "REDIS_PORT": 6379,
    "TOXIPROXY_PORT": 8474,
    "TOXI_POSTGRES_PORT": 15432,
    "TOXI_REDIS_PORT": 16379,
    "TOXI_VENDOR_PORT": 18081,
    "PROMETHEUS_PORT": 9090,
    "ALERTMANAGER_PORT": 9093,
}

# Compose service -> the port variable of its main listener (status output, steady state, readiness):
# none by default, as alertdrill cannot know a platform's services; `alertdrill init` writes them.
SERVICE_PORTS: dict[str, str] = {}


def parse(raw: object, where: str) -> int:
    """A lane number from configuration or the environment; ConfigError naming where, value and range."""
    value = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw)
    if value is None or value not in LANES:
        raise ConfigError(f"{where} = {raw!r} is invalid: expected a lane number {LANES.start}-{LANES.stop - 1} "
                          f"(0: the runbook's names and ports; N: project <name>-laneN, containers laneN-<service>, "
                          f"ports + {PORT_STEP}*N)")
    return value
