"""What `alertdrill init` reads of a compose file: its port variables (`${NAME_PORT:-8000}`) and, for every
service, the variable of its port, or why it has none (a service without one cannot be listed in
`[tool.alertdrill.services]`, whose values must be port variables: init lists it commented out, with
what to add)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_PORT_VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]*_PORT)(?::?-(\d+))?\}")
_NAMED_PORT = re.compile(r"\b([A-Z][A-Z0-9_]*_PORT)\b")
MONITORING_ROLES = (("prometheus", "PROMETHEUS_PORT"), ("alertmanager", "ALERTMANAGER_PORT"), ("sink", "ALERT_SINK_PORT"))


@dataclass
class ComposeServices:
    ports: dict[str, int] = field(default_factory=dict)  # port variable -> its default in the compose file
    services: dict[str, str] = field(default_factory=dict)  # service -> its port variable
    unported: dict[str, tuple[str, str]] = field(default_factory=dict)  # service -> (variable to give it, how)


def read(root: Path, compose_file: str | None) -> ComposeServices:
    """Every service of the compose file, each with the port variable of its role or its name, else the one
    its healthcheck probes, else the one only its own definition uses; the first other service gets BACKEND_PORT if the file has it."""
    if not compose_file:
        return ComposeServices()
    text = (root / compose_file).read_text()
    ports = {name: int(port) for name, port in _PORT_VAR.findall(text) if port}
    declared = (yaml.safe_load(text) or {}).get("services") or {}
    # what each service's own definition names, its environment aside (an x-ports anchor gives every
    # service every port variable): `${X_PORT}` substituted by compose, `$$X_PORT` read in the container
    own_vars = {s: set(_NAMED_PORT.findall(yaml.safe_dump({k: v for k, v in (d or {}).items() if k != "environment"})))
                for s, d in declared.items()}
    out = ComposeServices(ports=ports)
    for s in declared:
        var = (next((v for key, v in MONITORING_ROLES if key in s), None) or _own_port(s, ports)
               or _probed(declared[s], ports) or _only_its_own(s, own_vars, ports))
        if var is None and "BACKEND_PORT" in ports and "BACKEND_PORT" not in out.services.values():
            var = "BACKEND_PORT"
        if var and var in ports:
            out.services[s] = var
        else:
            out.unported[s] = _suggestion(s, declared[s], compose_file)
    return out


def _own_port(service: str, ports: dict[str, int]) -> str | None:
    """The port variable named after the service, whole (ADOPT_WEB_PORT) or by its last words (WEB_PORT)."""
    words = [w for w in re.split(r"[^A-Z0-9]+", service.upper()) if w]
    for i in range(len(words)):
        name = "_".join(words[i:]) + "_PORT"
        if name in ports:
            return name
    return None


def _probed(definition: dict | None, ports: dict[str, int]) -> str | None:
    """The one port variable the service's healthcheck probes (an exporter answering on its own port)."""
    named = set(_NAMED_PORT.findall(yaml.safe_dump((definition or {}).get("healthcheck") or {}))) & set(ports)
    return named.pop() if len(named) == 1 else None


def _only_its_own(service: str, own_vars: dict[str, set], ports: dict[str, int]) -> str | None:
    """The one port variable that this service's definition uses and no other service's does."""
    others = {v for s, found in own_vars.items() if s != service for v in found}
    mine = sorted((own_vars[service] - others) & set(ports))
    return mine[0] if len(mine) == 1 else None


def _suggestion(service: str, definition: dict, compose_file: str) -> tuple[str, str]:
    """The port variable to give the service, and what to do so that it can be listed."""
    var = re.sub(r"[^A-Z0-9]+", "_", service.upper()).strip("_") + "_PORT"
    published = [str(p) for p in (definition or {}).get("ports") or []]
    port = published[0].rsplit(":", 1)[-1].split("/")[0] if published else ""
    mapping = f"\"${{{var}:-{port}}}:{port}\"" if port.isdigit() else f"${{{var}:-<port>}}"
    return var, (f"{compose_file} gives it no ${{..._PORT}} variable: use {mapping} for its port, add "
                 f"{var} = {port if port.isdigit() else '<port>'} under [tool.alertdrill.ports], then uncomment")
