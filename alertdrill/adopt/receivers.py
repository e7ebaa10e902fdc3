"""Which receivers an alert reaches: `amtool config routes test` when amtool is installed (the
routing as Alertmanager itself evaluates it), else a walk of the route tree (equality matchers,
`match`/`match_re`, `continue`) good enough for a scaffold."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from alertdrill.alerting import promtools

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def receiver_names(am_path: Path) -> list[str]:
    data = yaml.safe_load(am_path.read_text()) or {}
    return [r["name"] for r in data.get("receivers") or [] if isinstance(r, dict) and r.get("name")]


def receivers_for(am_path: Path, labels: dict[str, str]) -> list[str]:
    tool = promtools.find("amtool")
    if tool is not None:
        p = tool.run("config", "routes", "test", f"--config.file={am_path}",
                     *[f"{k}={v}" for k, v in sorted(labels.items())])
        if p.returncode == 0 and p.stdout.strip():
            return [r for r in p.stdout.strip().splitlines()[0].split(",") if r]
    route = (yaml.safe_load(am_path.read_text()) or {}).get("route") or {}
    return list(dict.fromkeys(_walk(route, labels, route.get("receiver", ""))))


def _matches(route: dict, labels: dict[str, str]) -> bool:
    checks = [(k, "=", str(v)) for k, v in (route.get("match") or {}).items()]
    checks += [(k, "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    for m in route.get("matchers") or []:
        hit = _MATCHER.match(str(m))
        if hit:
            checks.append(hit.groups())
    for name, op, value in checks:
        have = labels.get(name, "")
        ok = {"=": have == value, "!=": have != value, "=~": re.fullmatch(value, have) is not None,
              "!~": re.fullmatch(value, have) is None}[op]
        if not ok:
            return False
    return True


def _walk(route: dict, labels: dict[str, str], inherited: str) -> list[str]:
    receiver = route.get("receiver") or inherited
    hits: list[str] = []
    for child in route.get("routes") or []:
        if _matches(child, labels):
            hits += _walk(child, labels, receiver)
            if not child.get("continue"):
                break
    return hits or [receiver]
