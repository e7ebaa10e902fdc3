"""Which receivers an alert reaches: `amtool config routes test` when amtool is installed (the
routing as Alertmanager itself evaluates it), else a walk of the route tree
(alertdrill.alerting.routing)."""
from __future__ import annotations

from pathlib import Path

import yaml

from alertdrill.alerting import promtools
from alertdrill.alerting.routing import delivering_routes


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
    data = yaml.safe_load(am_path.read_text()) or {}
    if not data.get("route"):
        return []
    return list(dict.fromkeys(r for r, _timers in delivering_routes(data, labels)))
