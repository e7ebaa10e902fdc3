"""Configuration: process environment first, then the service's own .env file, then defaults."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

ENV_FILE_VAR = "SIGNAL_GENERATOR_ENV_FILE"
DEFAULT_ENV_FILE = "signal_generator/.env"  # relative to the working directory (/app in the image)

QUALITY_MODES = ("normal", "degraded")

# name -> (default, parser)
DEFAULTS: dict[str, str] = {
    "BACKEND_URL": "http://127.0.0.1:8000",
    "SIGNAL_API_KEY": "dev-signal-key",
    "SIGNAL_INTERVAL_SECONDS": "1.0",
    "SIGNAL_QUALITY_MODE": "normal",
    "MIN_SIGNAL_QUALITY": "0.0",
    "SIGNAL_GENERATOR_PORT": "8001",
    "FORWARDED_FOR": "",
    # Local address the generator connects to the backend from (e.g. 127.0.0.21); empty: the OS picks.
    "SIGNAL_SOURCE_ADDRESS": "",
    # Journal of the ledger and the undelivered backlog, replayed at start so a restart loses nothing
    # (relative to the working directory: /app/signal_generator/state/ in the image, kept across
    # `docker compose restart`); "none" keeps everything in memory only.
    "SIGNAL_STATE_FILE": "signal_generator/state/journal.jsonl",
    "SIGNAL_HTTP_TIMEOUT": "5.0",
    "SIGNAL_DELIVERY_CONCURRENCY": "4",
    "SIGNAL_RETRY_MAX_BACKOFF": "2.0",
    "SIGNAL_SUMMARY_INTERVAL_SECONDS": "10",
    "SIGNAL_INSTRUMENTS": "EURUSD,GBPUSD,XAUUSD,USDJPY",
    "LOG_LEVEL": "INFO",
}

SECRET_NAMES = {"SIGNAL_API_KEY"}


class ConfigError(ValueError):
    pass


def parse_env_file(path: Path) -> dict[str, str]:
    """Minimal dotenv parser: KEY=VALUE lines, '#' comments, optional 'export ', optional quotes."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        if "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key:
            values[key] = value
    return values


@dataclass
class Config:
    backend_url: str
    api_key: str
    interval: float
    quality_mode: str
    min_quality: float
    port: int
    forwarded_for: str
    source_address: str
    state_file: str
    http_timeout: float
    concurrency: int
    max_backoff: float
    summary_interval: float
    instruments: list[str]
    log_level: str
    env_file: str
    env_file_found: bool
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (value, source)

    def describe(self) -> list[str]:
        lines = []
        for name, (value, source) in self.sources.items():
            shown = "***" if name in SECRET_NAMES and value else value
            lines.append(f"config {name}={shown!s} source={source}")
        return lines


def load_config(environ: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if environ is None else environ)
    env_file = env.get(ENV_FILE_VAR) or DEFAULT_ENV_FILE
    path = Path(env_file)
    file_values: dict[str, str] = {}
    found = path.is_file()
    if found:
        file_values = parse_env_file(path)

    sources: dict[str, tuple[str, str]] = {}
    for name, default in DEFAULTS.items():
        if name in env and env[name] != "":
            sources[name] = (env[name], "env")
        elif name in file_values:
            sources[name] = (file_values[name], f"file:{env_file}")
        else:
            sources[name] = (default, "default")

    def get(name: str) -> str:
        return sources[name][0].strip()

    def num(name: str, cast, minimum=None, maximum=None):
        try:
            value = cast(get(name))
        except ValueError as exc:
            raise ConfigError(f"{name}={get(name)!r} is not a valid {cast.__name__}") from exc
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name}={value} is below {minimum}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name}={value} is above {maximum}")
        return value

    mode = get("SIGNAL_QUALITY_MODE").lower()
    if mode not in QUALITY_MODES:
        raise ConfigError(f"SIGNAL_QUALITY_MODE={mode!r} must be one of {', '.join(QUALITY_MODES)}")
    interval = num("SIGNAL_INTERVAL_SECONDS", float)
    if interval <= 0:
        raise ConfigError("SIGNAL_INTERVAL_SECONDS must be > 0")
    instruments = [i.strip().upper() for i in get("SIGNAL_INSTRUMENTS").split(",") if i.strip()]
    if not instruments:
        raise ConfigError("SIGNAL_INSTRUMENTS is empty")
    backend_url = get("BACKEND_URL").rstrip("/")
    if not backend_url.startswith(("http://", "https://")):
        raise ConfigError(f"BACKEND_URL={backend_url!r} must be an http(s) URL")

    source_address = get("SIGNAL_SOURCE_ADDRESS")
    if source_address:
        try:
            source_address = str(ipaddress.ip_address(source_address))
        except ValueError:
            raise ConfigError(f"SIGNAL_SOURCE_ADDRESS={source_address!r} is not an IP address") from None

    return Config(
        backend_url=backend_url,
        api_key=get("SIGNAL_API_KEY"),
        interval=interval,
        quality_mode=mode,
        min_quality=num("MIN_SIGNAL_QUALITY", float, 0.0, 1.0),
        port=num("SIGNAL_GENERATOR_PORT", int, 0, 65535),
        forwarded_for=get("FORWARDED_FOR"),
        source_address=source_address,
        state_file="" if get("SIGNAL_STATE_FILE").lower() in ("none", "off") else get("SIGNAL_STATE_FILE"),
        http_timeout=num("SIGNAL_HTTP_TIMEOUT", float, 0.05),
        concurrency=num("SIGNAL_DELIVERY_CONCURRENCY", int, 1, 64),
        max_backoff=num("SIGNAL_RETRY_MAX_BACKOFF", float, 0.01),
        summary_interval=num("SIGNAL_SUMMARY_INTERVAL_SECONDS", float, 0.1),
        instruments=instruments,
        log_level=get("LOG_LEVEL").upper() or "INFO",
        env_file=env_file,
        env_file_found=found,
        sources=sources,
    )
