"""The suite's configuration, in one place: `[tool.alertdrill]` of the user's pyproject.toml.

Found by walking up from the current directory (or pytest's rootdir) to the first pyproject.toml that has
a `[tool.alertdrill]` table, or named outright (`--alertdrill-config PATH`, `ALERTDRILL_CONFIG=PATH`).
Every path in it resolves from the directory of that file, never from where alertdrill is installed.
Without any configuration the defaults apply from the current directory; they are this repository's
layout, so `pytest` here behaves as it always did.

    [tool.alertdrill]
    compose_file = "docker-compose.test.yml"
    compose_project = "alertdrill"
    lane = 0                                           # 0-9: project, containers, ports (ALERTDRILL_LANE wins)
    drill_factor = 30                                  # time compression of the drills (default 30; 1 = production)
    rules = ["stack/prometheus/rules/*.yml"]          # globs, as Prometheus' rule_files
    alertmanager = "stack/alertmanager/alertmanager.yml"
    runbook = "docs/runbook.md"
    prometheus = "stack/prometheus/prometheus.yml"    # production's Prometheus file, rendered at drill intervals
    steady_checks = ["platform_checks:queue_drained"]  # the platform's own steady checks (none by default)
    postgres_dsn = "postgresql://app:pw@127.0.0.1:{POSTGRES_PORT}/app"   # its database, if any
    [tool.alertdrill.services]                         # compose service -> its port variable (none by default)
    backend = "BACKEND_PORT"
    [tool.alertdrill.ready]                            # service -> the path answering 200 once ready (none)
    backend = "/ready"
    [tool.alertdrill.ports]                            # port variables (the environment overrides them)
    BACKEND_PORT = 8000

A wrong or missing setting raises ConfigError naming the key, the value and what is valid.
"""
from __future__ import annotations

import glob
import os
import tomllib
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from alertdrill.alerting import timescale
from alertdrill.errors import ConfigError
from alertdrill.target import defaults as lanes
from alertdrill.target.defaults import PORT_DEFAULTS, SERVICE_PORTS

ENV_VAR = "ALERTDRILL_CONFIG"
# A parallel drill lane's worker sets it, so the processes it starts in its checkout (a drill run as CI
# runs it, the CLI) keep the worker's state dir (stack.env, drill copy, loads) rather than the checkout's.
STATE_DIR_VAR = "ALERTDRILL_STATE_DIR"
TABLE = "tool.alertdrill"

# key: (kind, default, must exist, what it is). kind: "path" | "paths" (globs) | "str" | "strs" | "table" | "lane"
# | "dsn" (a string, may be empty) | "factor" (a number >= 1, or absent)
KEYS: dict[str, tuple[str, Any, bool, str]] = {
    "compose_file": ("path", "docker-compose.test.yml", False, "the compose file of the platform and its monitoring"),
    "compose_project": ("str", "alertdrill", False, "the compose project name"),
    "lane": ("lane", 0, False, "the isolation lane (alertdrill.target.lane)"),
    "drill_factor": ("factor", None, False, "the drills' time compression, read by the CLI and by pytest (a number "
                                            f">= 1; 1 = production timings; {timescale.DEFAULT_FACTOR} when unset)"),
    "rules": ("paths", ["stack/prometheus/rules/*.yml"], True, "rule files, globs as Prometheus loads them"),
    "alertmanager": ("path", "stack/alertmanager/alertmanager.yml", True, "the Alertmanager configuration"),
    "prometheus": ("path", "stack/prometheus/prometheus.yml", False, "prometheus.yml to render at drill intervals, if any"),
    "runbook": ("path", "docs/runbook.md", True, "the runbook, one section per alert"),
    "scenarios": ("path", "scenarios", False, "the folder of drill scenarios"),
    "locustfiles": ("path", "locustfiles", False, "the folder of locustfiles"),
    "state_dir": ("path", ".alertdrill", False, "where rendered configs, timelines and load runs go"),
    "rule_tests": ("paths", ["tests/rules/*_test.yml"], False, "promtool unit-test files (globs)"),
    "routing_tests": ("paths", ["docs/runbook.md"], False,
                      "routing expectations (alert -> receivers): a runbook with an alert index, or YAML "
                      "`alerts: {Name: {receivers: [...]}}`"),
    "mutation_tests": ("paths", ["tests/rules/test_rules_mutation.py"], False, "the mutation tests (globs)"),
    "services": ("table", dict(SERVICE_PORTS), False, "compose service -> the variable of its port"),
    "ready": ("table", {}, False, "compose service -> the path that answers 200 on its port once it is ready "
                                  "(steady state asks it)"),
    "steady_checks": ("strs", [], False, "functions `module:name` called with the drill context; each returns "
                                         "what keeps the platform from steady state (nothing when steady)"),
    "postgres_dsn": ("dsn", "", False, "the platform's database as the suite reaches it, port variables in braces "
                                       "(postgresql://user:pw@127.0.0.1:{POSTGRES_PORT}/db): preflight releases "
                                       "table locks in it and the runbook's SQL runs there"),
    "ports": ("table", dict(PORT_DEFAULTS), False, "port variable -> port (the environment overrides)"),
    "label_domain": ("path", None, True, "YAML `label: [value, ...]`: every value the platform gives a label its "
                                         "rules group by; `alertdrill check` drives each in its boundary tests"),
}


@dataclass(frozen=True)
class Config:
    """The resolved configuration: absolute paths, validated values."""
    root: Path  # the directory paths resolve from
    source: Path | None  # the pyproject.toml read, None for the defaults
    compose_file: Path
    compose_project: str
    lane: int  # as configured; ALERTDRILL_LANE overrides it (alertdrill.target.lane.current)
    rules: tuple[Path, ...]
    rule_globs: tuple[str, ...]
    alertmanager: Path
    prometheus: Path | None
    runbook: Path
    scenarios: Path
    locustfiles: Path
    state_dir: Path
    rule_tests: tuple[Path, ...]
    routing_tests: tuple[Path, ...]
    mutation_tests: tuple[Path, ...]
    services: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    ready: dict[str, str] = field(default_factory=dict)
    steady_checks: tuple[str, ...] = ()
    postgres_dsn: str = ""
    drill_factor: Fraction | None = None  # None: not set here (see drill_factor() for what applies)
    label_domain: Path | None = None  # None: no label domain (check drives one series per rule)

    def describe(self) -> str:
        where = self.source or f"defaults (no [{TABLE}] found; paths from {self.root})"
        return f"alertdrill config: {where}"


def find(start: Path | None = None) -> Path | None:
    """The first pyproject.toml with a [tool.alertdrill] table, walking up from start (default: cwd)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / "pyproject.toml"
        if candidate.is_file() and "alertdrill" in _read(candidate).get("tool", {}):
            return candidate
    return None


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the alertdrill configuration {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load(path: str | Path | None = None, *, start: Path | None = None) -> Config:
    """Read and validate a configuration: `path` (a pyproject.toml), else ALERTDRILL_CONFIG, else the
    nearest pyproject.toml with [tool.alertdrill] above `start`, else the defaults from `start`."""
    explicit = path or os.environ.get(ENV_VAR) or None
    if explicit:
        source = Path(explicit).resolve()
        if not source.is_file():
            raise ConfigError(f"alertdrill configuration {str(explicit)!r} does not exist: expected a pyproject.toml "
                              f"with a [{TABLE}] table (from --alertdrill-config or {ENV_VAR})")
        table = _read(source).get("tool", {}).get("alertdrill")
        if table is None:
            raise ConfigError(f"{source} has no [{TABLE}] table; add one (see `alertdrill init`)")
    else:
        source = find(start)
        table = _read(source)["tool"]["alertdrill"] if source else {}
    root = source.parent if source else (start or Path.cwd()).resolve()
    conf = from_table(table, root, source)
    # Only inside the checkout that set it: a second platform's configuration keeps its own state dir.
    state_dir = Path(os.environ.get(STATE_DIR_VAR) or conf.state_dir).resolve()
    return replace(conf, state_dir=state_dir) if state_dir.is_relative_to(root) else conf


# Keys alertdrill once read, and where what they said comes from now.
RETIRED = {"receivers": "each alert's receivers come from the runbook's alert index and Receivers table"}


def from_table(table: dict, root: Path, source: Path | None = None) -> Config:
    """Validate `table` (the [tool.alertdrill] dict) and resolve it against root."""
    where = f"[{TABLE}] of {source}" if source else f"[{TABLE}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {type(table).__name__}")
    retired = sorted(set(table) & set(RETIRED))
    if retired:
        k = retired[0]
        raise ConfigError(f"{where}: {k} = {table[k]!r} is no longer read: {RETIRED[k]}. Remove the key.")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        k = unknown[0]
        raise ConfigError(f"{where}: unknown key {k!r} (value {table[k]!r}); valid keys are: {', '.join(KEYS)}")
    values = {k: _value(where, root, k, table.get(k, spec[1]), explicit=k in table) for k, spec in KEYS.items()}
    values["rule_globs"] = tuple(_strings(where, "rules", table.get("rules", KEYS["rules"][1])))
    values["ports"] = _ports(where, values["ports"], configured="ports" in table)
    _check_services(where, values["services"], values["ports"])
    _check_ready(where, values["ready"], values["services"])
    _check_steady_checks(where, values["steady_checks"])
    prom = values["prometheus"]
    values["prometheus"] = prom if prom.exists() else None
    return Config(root=root, source=source, **values)


def _value(where: str, root: Path, key: str, raw: Any, *, explicit: bool) -> Any:
    kind, _default, must_exist, what = KEYS[key]
    if kind == "str":
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(f"{where}: {key} = {raw!r} is invalid: expected a non-empty string ({what})")
        return raw
    if kind == "lane":
        return lanes.parse(raw, f"{where}: {key}")
    if kind == "factor":
        return None if raw is None else _factor(f"{where}: {key}", raw)
    if kind == "dsn":
        if not isinstance(raw, str):
            raise ConfigError(f"{where}: {key} = {raw!r} is invalid: expected a string ({what})")
        return raw
    if kind == "strs":
        return tuple(_strings(where, key, raw))
    if kind == "table":
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: {key} = {raw!r} is invalid: expected a table ({what})")
        return dict(raw)
    if kind == "path":
        if raw is None and _default is None:  # an optional file, not configured
            return None
        if not isinstance(raw, str) or not raw:
            raise ConfigError(f"{where}: {key} = {raw!r} is invalid: expected a path string ({what})")
        p = (root / raw).resolve()
        if must_exist and not p.exists():
            raise ConfigError(f"{where}: {key} = {raw!r}: {p} does not exist; expected {what}, "
                              f"relative to {root}")
        return p
    patterns = _strings(where, key, raw)
    found = _glob(root, patterns)
    if not found and (must_exist or explicit and patterns):  # an explicit [] means "none"
        raise ConfigError(f"{where}: {key} = {raw!r} matches no file under {root}; expected {what}")
    return tuple(found)


def _factor(where: str, raw: Any) -> Fraction:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raw = repr(raw)  # as_factor refuses it, naming what it got
    try:
        return timescale.as_factor(raw)
    except timescale.FactorError as exc:
        raise ConfigError(f"{where} = {raw!r} is invalid: {exc}; e.g. drill_factor = {timescale.DEFAULT_FACTOR} "
                          "(`alertdrill init` writes the largest the rule windows allow)") from None


def drill_factor(conf: Config, given: Any = None, ini: Any = None) -> tuple[Fraction, str]:
    """The drill factor and where it was set, first found of: `given` (the command line), drill_factor of
    [tool.alertdrill], `ini` (drill_factor of [tool.pytest.ini_options]: pytest passes its ini value, the CLI
    lets it be read from the configuration file; kept for projects that set it there first), the default."""
    if given is not None and str(given).strip():
        return _factor("the command line's factor", str(given).strip()), "the command line"
    if conf.drill_factor is not None:
        return conf.drill_factor, f"drill_factor of [{TABLE}] in {conf.source or 'the defaults'}"
    if ini is None and conf.source is not None:
        ini = _read(conf.source).get("tool", {}).get("pytest", {}).get("ini_options", {}).get("drill_factor")
    if ini is not None and str(ini).strip():
        where = "drill_factor of [tool.pytest.ini_options]"
        return _factor(where, str(ini).strip()), where
    return Fraction(timescale.DEFAULT_FACTOR), "the default"


def _strings(where: str, key: str, raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ConfigError(f"{where}: {key} = {raw!r} is invalid: expected a string or a list of strings "
                          f"({KEYS[key][3]})")
    return raw


def _glob(root: Path, patterns: list[str]) -> list[Path]:
    out: list[Path] = []
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(root / pattern)
        out += [Path(p).resolve() for p in sorted(glob.glob(full, recursive=True)) if Path(p).is_file()]
    return list(dict.fromkeys(out))


def _ports(where: str, table: dict, *, configured: bool) -> dict[str, int]:
    """The port variables: a configured table as it is, nothing of alertdrill's own defaults merged in (a
    default port of a service the platform does not have could be someone else's on a shared host); the
    defaults (this repository's layout) only where no table is configured."""
    ports = {} if configured else dict(PORT_DEFAULTS)
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise ConfigError(f"{where}: ports.{name} = {value!r} is invalid: expected a port number 1-65535")
        ports[name] = value
    return ports


def _check_services(where: str, services: dict, ports: dict[str, int]) -> None:
    for service, var in services.items():
        if not isinstance(var, str) or var not in ports:
            raise ConfigError(f"{where}: services.{service} = {var!r} is invalid: expected the name of a port "
                              f"variable, one of: {', '.join(sorted(ports))} (add yours under ports)")


def _check_ready(where: str, ready: dict, services: dict[str, str]) -> None:
    for service, path in ready.items():
        if service not in services:
            raise ConfigError(f"{where}: ready.{service} names no service: expected one of "
                              f"{', '.join(services) or '(none: add [tool.alertdrill.services])'}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ConfigError(f"{where}: ready.{service} = {path!r} is invalid: expected a path such as '/ready'")


def _check_steady_checks(where: str, names: tuple[str, ...]) -> None:
    for name in names:
        module, _, attr = name.partition(":")
        if not module or not attr.isidentifier():
            raise ConfigError(f"{where}: steady_checks entry {name!r} is invalid: expected 'module:function', "
                              "e.g. 'platform_checks:queue_drained'")


def dsn(conf: "Config", ports: dict[str, int]) -> str:
    """The configured postgres_dsn with the lane's ports filled in; ConfigError when there is none."""
    if not conf.postgres_dsn:
        raise ConfigError(f"no postgres_dsn in [{TABLE}] of {conf.source or 'the defaults'}: the drill asked for the "
                          "platform's database; set it, e.g. postgres_dsn = "
                          "\"postgresql://postgres:postgres@127.0.0.1:{POSTGRES_PORT}/app\"")
    try:
        return conf.postgres_dsn.format_map(ports)
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"[{TABLE}] postgres_dsn = {conf.postgres_dsn!r}: {exc} is not a port variable; expected "
                          f"one of {', '.join(sorted(ports))} in braces") from None


_active: Config | None = None


def current() -> Config:
    """The active configuration: the one activate() set, else load() from the current directory."""
    global _active
    if _active is None:
        _active = load()
    return _active


def activate(config: Config | None) -> Config | None:
    """Make `config` the active configuration (None: find it again on next use); returns the previous."""
    global _active
    previous, _active = _active, config
    return previous
