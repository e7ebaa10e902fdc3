"""`alertdrill init`: adopt alertdrill in a repository that has alert rules and a runbook.

1. finds the rules, the Alertmanager configuration, the runbook and the compose file (or takes them
   from the options), and writes `[tool.alertdrill]` into pyproject.toml (created if missing; an
   existing table is left alone);
2. for every alert of the rules that has a runbook section but no drill, writes
   `<scenarios>/test_<alert>.py`: EXPECTATION filled from the rule (severity, the watched expression and
   its threshold) and the routing (its receivers, by amtool when installed), a run(d, ctx) that reads
   like the runbook section, and in place of the fault a `raise FaultNotWritten(...)` that fails the
   drill saying what to write. `alertdrill coverage` lists such a drill as a gap until it is written.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from alertdrill import config as adconfig
from alertdrill.adopt import receivers as routing
from alertdrill.adopt import sources
from alertdrill.adopt.templates import config_block, scenario

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", ".alertdrill", "__pycache__", ".tox", "build", "dist"}


def _files(root: Path, patterns: list[str]) -> list[Path]:
    found = []
    for pattern in patterns:
        for p in sorted(root.glob(pattern)):
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(root).parts):
                found.append(p)
    return list(dict.fromkeys(found))


def _is_rules(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and any(
        isinstance(g, dict) and any(isinstance(r, dict) and "alert" in r for r in g.get("rules") or [])
        for g in data.get("groups") or [])


def discover(root: Path) -> dict[str, str]:
    """The repository's files, relative to root: rules (as globs of their folders), alertmanager,
    prometheus, runbook, compose_file. A missing one is left out (the defaults then apply, and say what is wrong)."""
    out: dict[str, object] = {}
    rules = [p for p in _files(root, ["**/*.yml", "**/*.yaml"]) if _is_rules(p)]
    if rules:
        dirs = dict.fromkeys(p.parent for p in rules)
        out["rules"] = [str((d.relative_to(root) / "*.yml").as_posix()) for d in dirs]
    am = _files(root, ["**/alertmanager.yml", "**/alertmanager.yaml"])
    prometheus = _files(root, ["**/prometheus.yml", "**/prometheus.yaml"])
    runbooks = _files(root, ["**/runbook*.md", "**/RUNBOOK*.md", "**/runbooks/*.md"])
    compose = _files(root, ["compose.yml", "compose.yaml", "docker-compose*.yml", "docker-compose*.yaml"])
    for key, found in (("alertmanager", am), ("prometheus", prometheus), ("runbook", runbooks),
                       ("compose_file", compose)):
        if found:
            out[key] = found[0].relative_to(root).as_posix()
    return out  # type: ignore[return-value]


def _ports_and_services(root: Path, compose_file: str | None) -> tuple[dict[str, int], dict[str, str]]:
    """Port variables with their defaults (`${NAME_PORT:-8000}` in the compose file), and each compose
    service with the port variable of its role (backend = the first service that is not monitoring)."""
    if not compose_file:
        return {}, {}
    text = (root / compose_file).read_text()
    ports = {name: int(port) for name, port in re.findall(r"\$\{([A-Z][A-Z0-9_]*_PORT):-(\d+)\}", text)}
    services = list(((yaml.safe_load(text) or {}).get("services") or {}))
    roles: dict[str, str] = {}
    for s in services:
        role = next((v for key, v in (("prometheus", "PROMETHEUS_PORT"), ("alertmanager", "ALERTMANAGER_PORT"),
                                      ("sink", "ALERT_SINK_PORT")) if key in s), None)
        role = role or _own_port(s, ports) or ("BACKEND_PORT" if "BACKEND_PORT" not in roles.values() else None)
        if role and role in ports:
            roles[s] = role
    return ports, roles


def _own_port(service: str, ports: dict[str, int]) -> str | None:
    """The port variable named after the service, whole (ADOPT_WEB_PORT) or by its last words (WEB_PORT)."""
    words = [w for w in re.split(r"[^A-Z0-9]+", service.upper()) if w]
    for i in range(len(words)):
        name = "_".join(words[i:]) + "_PORT"
        if name in ports:
            return name
    return None


def write_config(root: Path, found: dict, force: bool = False) -> tuple[Path, bool]:
    """Append [tool.alertdrill] to root/pyproject.toml; (path, written). Left alone if present."""
    py = root / "pyproject.toml"
    text = py.read_text() if py.exists() else ""
    if "[tool.alertdrill]" in text and not force:
        return py, False
    ports, services = _ports_and_services(root, found.get("compose_file"))
    compose = yaml.safe_load((root / found["compose_file"]).read_text()) if found.get("compose_file") else {}
    project = (compose or {}).get("name") or re.sub(r"[^a-z0-9-]+", "-", root.name.lower()).strip("-")
    block = config_block(found, services=services, ports=ports, project=project or "platform")
    py.write_text(text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "") + block)
    return py, True


def scaffold(conf: adconfig.Config) -> list[Path]:
    """Write a skeleton scenario for every alert with a runbook section and no drill; returns them."""
    rules, drills, runbook = sources.alert_rules(conf), sources.drills(conf), sources.runbook(conf)
    from alertdrill.runbook.parse import parse_runbook

    rb = parse_runbook(conf.runbook) if runbook else None
    conf.scenarios.mkdir(parents=True, exist_ok=True)
    written = []
    for alert, rule in rules.items():
        if alert in drills or alert not in runbook or rb is None:
            continue
        labels = {"alertname": alert, **{k: str(v) for k, v in (rule.get("labels") or {}).items()}}
        got = routing.receivers_for(conf.alertmanager, labels)
        path = conf.scenarios / f"test_{_snake(alert)}.py"
        path.write_text(scenario(alert, rule, got, rb.section(alert), conf.runbook.name))
        written.append(path)
    return written


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="alertdrill init", description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=".", help="the repository (default: the current directory)")
    for key in ("rules", "alertmanager", "prometheus", "runbook", "compose-file"):
        ap.add_argument(f"--{key}", default=None, help=f"the {key} (default: found in the repository)")
    ap.add_argument("--force", action="store_true", help="append [tool.alertdrill] even if one exists")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    found = discover(root)
    for key in ("rules", "alertmanager", "prometheus", "runbook", "compose_file"):
        value = getattr(args, key)
        if value:
            found[key] = [value] if key == "rules" else value
    py, wrote = write_config(root, found, args.force)
    print(f"{'wrote' if wrote else 'kept the existing'} [tool.alertdrill] in {py}")
    conf = adconfig.load(py)  # validates: a missing file is named with its key
    adconfig.activate(conf)
    for path in scaffold(conf):
        print(f"wrote {path.relative_to(root)}: write its fault, then `pytest {path.relative_to(root)}`")
    print("next: `alertdrill coverage` lists what each alert still lacks")
    return 0
