"""Deliberately broken alerting, to prove a drill goes red when the rules or routing are wrong.

`broken_rules` / `broken_routing` edit the drill copies the running stack mounts, reload Prometheus or
Alertmanager, and always restore and reload again on the way out (failure, timeout or Ctrl-C).
"""
from __future__ import annotations

import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from alertdrill.target.clients import AlertmanagerClient, PrometheusClient
from alertdrill.target.stack import Stack

RELOAD_SETTLE = 3.0  # seconds: a few drill evaluation intervals (1 s each)


@contextmanager
def _edited(path: Path, edit: Callable[[str], str], reload: Callable[[], None]) -> Iterator[str]:
    original = path.read_text()
    mutated = edit(original)
    if mutated == original:
        raise ValueError(f"the edit changed nothing in {path}: the mutation would prove nothing")
    try:
        path.write_text(mutated)
        reload()
        yield mutated
    finally:
        path.write_text(original)
        reload()
        # Let the restored configuration be evaluated at least once before anyone checks steady state.
        time.sleep(RELOAD_SETTLE)


def _rules_file(stack: Stack) -> Path:
    rules_dir = stack.overrides.get("ALERTDRILL_RULES_DIR")
    if not rules_dir:
        raise RuntimeError("the stack runs the production rules; broken-alerting drills need a drill copy")
    return Path(rules_dir) / "alerts.yml"


@contextmanager
def broken_rules(stack: Stack, edit: Callable[[str], str]) -> Iterator[str]:
    prom = PrometheusClient(stack.endpoints.prometheus)
    try:
        with _edited(_rules_file(stack), edit, prom.reload) as text:
            yield text
    finally:
        prom.close()


@contextmanager
def broken_routing(stack: Stack, edit: Callable[[str], str]) -> Iterator[str]:
    am = AlertmanagerClient(stack.endpoints.alertmanager)

    def reload() -> None:
        # The container renders its config from the mounted copy (sink port), then reloads it.
        subprocess.run(["docker", "exec", "alertmanager", "render-config"], check=True, capture_output=True)
        am.reload()

    path = Path(stack.overrides["ALERTDRILL_ALERTMANAGER_DIR"]) / "alertmanager.yml"
    try:
        with _edited(path, edit, reload) as text:
            yield text
    finally:
        am.close()


def in_rule(alert: str, old: str, new: str) -> Callable[[str], str]:
    """An edit of the rules file that replaces `old` by `new` once, inside `alert`'s rule only."""

    def edit(text: str) -> str:
        start = text.index(f"- alert: {alert}\n")
        end = text.find("- alert: ", start + 1)
        end = len(text) if end == -1 else end
        rule = text[start:end]
        if old not in rule:
            raise ValueError(f"{old!r} not found in the rule {alert}: the mutation would prove nothing")
        return text[:start] + rule.replace(old, new, 1) + text[end:]

    return edit
