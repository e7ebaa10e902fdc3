"""Configuration: process environment first, then backend/.env (BACKEND_ENV_FILE), then built-in defaults.

The effective value of each tunable and where it came from is logged at start (secrets masked).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .logging import log
from .netaddr import ip_network


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].strip()
        if "=" not in line:
            continue
        key, _, val = line.partition("=")
        key, val = key.strip(), val.strip()
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "\"'":
            val = val[1:-1]
        elif " #" in val:
            val = val.split(" #", 1)[0].rstrip()
        values[key] = val
    return values


def _bool(v: str) -> bool:
    return v.strip().lower() in ("1", "true", "yes", "on")


def _defaults() -> dict[str, str]:
    # The backend reaches its dependencies through the Toxiproxy proxies (docs/contract.md).
    pg_port = os.environ.get("TOXI_POSTGRES_PORT", "15432")
    redis_port = os.environ.get("TOXI_REDIS_PORT", "16379")
    vendor_port = os.environ.get("TOXI_VENDOR_PORT", "18081")
    return {
        "DATABASE_URL": f"postgresql://postgres:postgres@127.0.0.1:{pg_port}/trading_signals",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "VENDOR_URL": f"http://127.0.0.1:{vendor_port}",
        "DB_POOL_SIZE": "10",
        "DB_POOL_TIMEOUT": "10",
        "RATE_LIMIT_PER_MINUTE": "120",
        # The signal producer (a request with the SIGNAL_API_KEY) is counted by its key, not its address,
        # on a budget of its own: after an ingestion outage it catches up on its backlog at once.
        "SIGNAL_RATE_LIMIT_PER_MINUTE": "1200",
        # GET /ready per address: the drills poll it twice a second and the compose healthcheck polls it too.
        "READY_RATE_LIMIT_PER_MINUTE": "600",
        "STRIPE_WEBHOOK_SECRET": "whsec_alertdrill_test",
        "JWT_SECRET": "alertdrill-dev-jwt-secret-change-me",
        "SESSION_TTL_SECONDS": "3600",
        "SIGNAL_API_KEY": "dev-signal-key",
        "VENDOR_TIMEOUT": "10",
        "CIRCUIT_BREAKER_ENABLED": "false",
        "CIRCUIT_BREAKER_FAILURES": "3",
        "CIRCUIT_BREAKER_RESET_SECONDS": "30",
        "CIRCUIT_BREAKER_CALL_TIMEOUT": "1",
        "DENYLIST_FILE": "backend/denylist.txt",
        "RELEASE": "1.4.2",
        "DEMO_USER_EMAIL": "trader@example.com",
        "DEMO_USER_PASSWORD": "trader-password",
        "LOG_LEVEL": "INFO",
        "MAX_BODY_BYTES": "65536",
        "EA_MAX_SKEW_SECONDS": "300",
        "WEBHOOK_TOLERANCE_SECONDS": "300",
        # Comma list of proxy addresses/networks whose X-Forwarded-For is honoured; none by default (the
        # reference stack has no proxy in front of the backend, so the client is the TCP peer).
        "TRUSTED_PROXIES": "",
        "DEVICE_CACHE_SECONDS": "1",
    }


SECRET_KEYS = {"STRIPE_WEBHOOK_SECRET", "JWT_SECRET", "SIGNAL_API_KEY", "DEMO_USER_PASSWORD"}


def _mask(key: str, value: str) -> str:
    if key in SECRET_KEYS:
        return (value[:4] + "***") if len(value) > 4 else "***"
    if key == "DATABASE_URL" and "@" in value and ":" in value.split("@", 1)[0]:
        head, tail = value.split("@", 1)
        scheme_user = head.rsplit(":", 1)[0]
        return f"{scheme_user}:***@{tail}"
    return value


@dataclass
class Settings:
    env_file: str
    values: dict[str, str]
    sources: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str:
        return self.values[key]

    # typed accessors
    @property
    def database_url(self) -> str: return self.values["DATABASE_URL"]
    @property
    def redis_url(self) -> str: return self.values["REDIS_URL"]
    @property
    def vendor_url(self) -> str: return self.values["VENDOR_URL"].rstrip("/")
    @property
    def db_pool_size(self) -> int: return max(1, int(self.values["DB_POOL_SIZE"]))
    @property
    def db_pool_timeout(self) -> float: return float(self.values["DB_POOL_TIMEOUT"])
    @property
    def rate_limit_per_minute(self) -> int: return int(self.values["RATE_LIMIT_PER_MINUTE"])
    @property
    def signal_rate_limit_per_minute(self) -> int: return int(self.values["SIGNAL_RATE_LIMIT_PER_MINUTE"])
    @property
    def ready_rate_limit_per_minute(self) -> int: return int(self.values["READY_RATE_LIMIT_PER_MINUTE"])
    @property
    def stripe_webhook_secret(self) -> str: return self.values["STRIPE_WEBHOOK_SECRET"]
    @property
    def jwt_secret(self) -> str: return self.values["JWT_SECRET"]
    @property
    def session_ttl_seconds(self) -> int: return int(self.values["SESSION_TTL_SECONDS"])
    @property
    def signal_api_key(self) -> str: return self.values["SIGNAL_API_KEY"]
    @property
    def vendor_timeout(self) -> float: return float(self.values["VENDOR_TIMEOUT"])
    @property
    def circuit_breaker_enabled(self) -> bool: return _bool(self.values["CIRCUIT_BREAKER_ENABLED"])
    @property
    def circuit_breaker_failures(self) -> int: return max(1, int(self.values["CIRCUIT_BREAKER_FAILURES"]))
    @property
    def circuit_breaker_reset_seconds(self) -> float: return float(self.values["CIRCUIT_BREAKER_RESET_SECONDS"])
    @property
    def circuit_breaker_call_timeout(self) -> float: return float(self.values["CIRCUIT_BREAKER_CALL_TIMEOUT"])
    @property
    def denylist_file(self) -> str: return self.values["DENYLIST_FILE"]
    @property
    def release(self) -> str: return self.values["RELEASE"]
    @property
    def demo_user_email(self) -> str: return self.values["DEMO_USER_EMAIL"]
    @property
    def demo_user_password(self) -> str: return self.values["DEMO_USER_PASSWORD"]
    @property
    def log_level(self) -> str: return self.values["LOG_LEVEL"].upper()
    @property
    def max_body_bytes(self) -> int: return int(self.values["MAX_BODY_BYTES"])
    @property
    def ea_max_skew_seconds(self) -> int: return int(self.values["EA_MAX_SKEW_SECONDS"])
    @property
    def device_cache_seconds(self) -> float: return float(self.values["DEVICE_CACHE_SECONDS"])
    @property
    def webhook_tolerance_seconds(self) -> int: return max(1, int(self.values["WEBHOOK_TOLERANCE_SECONDS"]))

    @property
    def trusted_proxies(self) -> tuple:
        """TRUSTED_PROXIES parsed once: a tuple of ipaddress networks (invalid entries are logged, skipped)."""
        cached = self.__dict__.get("_trusted_proxies")
        if cached is None:
            nets = []
            for item in self.values["TRUSTED_PROXIES"].replace(" ", ",").split(","):
                if not item:
                    continue
                try:
                    nets.append(ip_network(item))
                except ValueError:
                    log.warning("config TRUSTED_PROXIES entry ignored not an address or network", entry=item)
            cached = self.__dict__["_trusted_proxies"] = tuple(nets)
        return cached

    def log_effective(self) -> None:
        log.info("config loaded", env_file=self.env_file, env_file_exists=Path(self.env_file).is_file())
        for key in sorted(self.values):
            log.info("config", key=key, value=_mask(key, self.values[key]), source=self.sources[key])


def load_settings() -> Settings:
    env_file = os.environ.get("BACKEND_ENV_FILE", "backend/.env")
    file_values = _parse_env_file(Path(env_file))
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    keys = set(_defaults()) | set(file_values)
    defaults = _defaults()
    for key in keys:
        if key in os.environ and key != "BACKEND_ENV_FILE":
            values[key], sources[key] = os.environ[key], "env"
        elif key in file_values:
            values[key], sources[key] = file_values[key], env_file
        else:
            values[key], sources[key] = defaults[key], "default"
    return Settings(env_file=env_file, values=values, sources=sources)


_settings: Settings | None = None


def get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings
