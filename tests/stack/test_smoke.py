"""Smoke tests of the running stack: healthy, scraped, routed, and the runbook's queries answer."""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from alertdrill.target.clients import AlertmanagerClient, PrometheusClient, SinkClient
from alertdrill.runbook.queries import metric_names, runbook_queries
from alertdrill.wait import until
from scenarios.platform.client import generator_url

pytestmark = pytest.mark.stack


def _wait(predicate, timeout: float, what: str):
    """predicate() -> (done, what it saw); the last sighting is returned, or shown on timeout."""
    seen: dict = {}

    def check() -> bool:
        done, seen["last"] = predicate()
        return done

    until(check, timeout, on_timeout=lambda: pytest.fail(f"{what} not reached within {timeout:.0f}s; "
                                                         f"last seen: {seen.get('last')}"))
    return seen["last"]


def test_all_services_healthy(stack):
    bad = [s for s in stack.status() if not s.healthy]
    assert not bad, "services not healthy:\n" + stack.describe()


def _exposes(text: str, name: str) -> bool:
    # prometheus-client declares counters without their _total suffix in # TYPE lines
    return f"# TYPE {name} " in text or f"# TYPE {name.removesuffix('_total')} counter" in text


def test_every_metric_the_runbook_names_is_exposed(stack, drill_settings):
    """Backend metrics on the backend's /metrics (the generator's own on its /metrics)."""
    names = set().union(*(metric_names(q) for q in runbook_queries(drill_settings.runbook.path.read_text())))
    assert len(names) >= 8, f"the runbook's curl lines name too few metrics to check: {sorted(names)}"
    backend = httpx.get(f"{stack.endpoints.backend}/metrics", timeout=5).text
    generator = httpx.get(f"{generator_url(stack.endpoints)}/metrics", timeout=5).text
    missing = sorted(n for n in names if not _exposes(backend, n) and not _exposes(generator, n))
    assert not missing, f"no /metrics of the stack exposes these metrics the runbook queries: {missing}"
    backend_metrics = {"request_duration_seconds", "http_requests_total", "errors_total", "db_connection_pool_size",
                       "db_query_duration_seconds", "redis_connected", "auth_login_total", "ea_errors_total",
                       "approvals_total", "ratelimit_block_total"}
    absent = sorted(n for n in backend_metrics if not _exposes(backend, n))
    assert not absent, f"the backend's /metrics lacks metrics the on-call runbook queries: {absent}"


def test_every_prometheus_target_is_up(stack):
    prom = PrometheusClient(stack.endpoints.prometheus)
    jobs = {"backend", "signal-generator", "toxiproxy"}

    def all_up():
        targets = prom.targets()
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return jobs <= set(health) and all(h == "up" for h in health.values()), health

    _wait(all_up, 30, "every target up (backend, signal-generator, toxiproxy, prometheus, alertmanager)")


def routed_receivers(labels: dict[str, str], config: Path) -> set[str]:
    """The receivers the routing tree names for these labels (`amtool config routes test`)."""
    from alertdrill.alerting.promtools import ToolNotFound, amtool

    try:
        tool = amtool()
    except ToolNotFound as exc:
        pytest.skip(str(exc))
    out = tool.run("config", "routes", "test", f"--config.file={config}", *(f"{k}={v}" for k, v in labels.items()))
    assert out.returncode == 0, f"amtool config routes test failed: {out.stderr}"
    return {r.strip() for r in out.stdout.strip().split(",") if r.strip()}


def test_test_alert_reaches_the_receivers_the_routing_names(stack):
    labels = {"alertname": "AlertdrillSmokeTest", "severity": "critical", "smoke": str(time.time())}
    expected = routed_receivers(labels, Path(stack.overrides.get(
        "ALERTDRILL_ALERTMANAGER_DIR", "stack/alertmanager")) / "alertmanager.yml")
    assert expected, "the routing sends a critical alert nowhere"
    am, sink = AlertmanagerClient(stack.endpoints.alertmanager), SinkClient(stack.endpoints.sink)
    since = time.time()
    am.post_alert(labels, {"summary": "alertdrill smoke test"})
    try:
        def delivered():
            got = {n.receiver for n in sink.notifications(alertname="AlertdrillSmokeTest", since=since)}
            return got >= expected, got
        got = _wait(delivered, 30, f"notifications at {sorted(expected)}")
        assert got == expected, f"routing sent the test alert to {sorted(got)}, the config names {sorted(expected)}"
    finally:
        am.resolve_alert(labels)


def test_every_runbook_query_succeeds(stack, drill_settings):
    queries = runbook_queries(drill_settings.runbook.path.read_text())
    assert queries, f"no PromQL found in the curl lines of {drill_settings.runbook.path}"
    prom = PrometheusClient(stack.endpoints.prometheus)
    failed = {q: prom.query_raw(q) for q in queries}
    failed = {q: r for q, r in failed.items() if r.get("status") != "success"}
    assert not failed, "runbook queries Prometheus rejects:\n" + "\n".join(f"{q}: {r}" for q, r in failed.items())


# Investigation commands that only read: the database shell, redis-cli and GET requests.
_READ_ONLY = re.compile(r"^(docker exec (-it )?postgres psql |docker exec redis redis-cli |curl -s[g]? (?!.*-X ))")


def runbook_read_commands(runbook) -> list[str]:
    commands = []
    for section in runbook.sections:
        for block in section.investigation_blocks:
            if block.is_shell:
                commands += [c for c in block.commands() if _READ_ONLY.match(c) and "$" not in c]
    return list(dict.fromkeys(commands))


def test_runbook_investigation_commands_answer(stack, drill_settings):
    """The runbook's psql, redis-cli and curl investigation lines run as written (in the stack's lane: its
    container names and ports) and answer."""
    commands = runbook_read_commands(drill_settings.runbook)
    assert len(commands) >= 5, f"too few read-only investigation commands found: {commands}"
    failed = []
    for command in commands:
        script = stack.follow(command.replace("docker exec -it ", "docker exec "))
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", script],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0 or not proc.stdout.strip():
            failed.append(f"{command}\n    -> exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[:200]}")
    assert not failed, "runbook commands that do not answer:\n" + "\n".join(failed)
