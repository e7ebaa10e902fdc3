"""The platform nobody here wrote (tests/adopt/redis_platform): Redis, the public redis_exporter built from its
Go module (scripts/build-redis-exporter.sh), three rules of awesome-prometheus-alerts copied unmodified
(tests/adopt/vendor), routed to a pager and a chat, and the cache team's runbook in prose, with no table. Its
compose file runs Redis and the exporter only.

Only `alertdrill init --with-monitoring` (which adds Prometheus, Alertmanager and the alert sink), `alertdrill
check` and a review of the drafts stand between them and a green drill:
- fast: the rules still equal the vendored file; `check` refuses the drafts and the missing runbook_url
  annotations, passes once they are reviewed, and fails in seconds on a threshold drifted from the
  reviewed table;
- drill: RedisDown, with the one fault the team writes (Redis stopped), from the reviewed platform."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


HERE = Path(__file__).resolve().parent
PLATFORM = HERE / "redis_platform"
VENDORED = HERE / "vendor" / "awesome-prometheus-alerts"
EXPORTER = PLATFORM / "bin" / "redis_exporter"
PROJECT = "alertdrill-adopt-redis"
# this run's own settings and lane are not the cache team's
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ALERTDRILL_CONFIG", "ALERTDRILL_LANE",
                                                         "ALERTDRILL_STATE_DIR", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
# init gives the monitoring services the usual 9090, 9093, 9095: this host's lane 0 has them, and the
# environment overrides [tool.alertdrill.ports], as it would for a team on a shared host
ENV.update(PROMETHEUS_PORT="19190", ALERTMANAGER_PORT="19193", ALERT_SINK_PORT="19195")


def alertdrill(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alertdrill.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def _rules(path: Path) -> dict[str, dict]:
    return {r["alert"]: r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]}


def review(root: Path) -> None:
    """What the team does with init's drafts: reads each drafted table and deletes its DRAFT line, fills in
    the response times, and adds the runbook_url annotations init listed (init edits no rule file)."""
    runbook = root / "runbook.md"
    text = re.sub(r"(?m)^> DRAFT \(alertdrill init\).*\n(> - .*\n)*\n?", "", runbook.read_text())
    runbook.write_text(text.replace("| critical | TODO |", "| critical | 15 minutes |")
                       .replace("| warning | TODO |", "| warning | next working day |"))
    for line in reversed((root / ".alertdrill" / "init" / "runbook_urls.txt").read_text().splitlines()):
        where, alert, annotation = re.fullmatch(r"(\S+:\d+) (\w+): add under annotations: (runbook_url: .*)", line).groups()
        path, lineno = where.rsplit(":", 1)
        lines = (root / path).read_text().splitlines()
        assert f"alert: {alert}" in lines[int(lineno) - 1], f"{where} is not {alert}'s rule"
        at = next(i for i in range(int(lineno), len(lines)) if lines[i].strip() == "annotations:")
        indent = len(lines[at + 1]) - len(lines[at + 1].lstrip())
        lines.insert(at + 1, " " * indent + annotation)
        (root / path).write_text("\n".join(lines) + "\n")


@pytest.fixture
def platform(tmp_path) -> Path:
    """The cache team's repository before alertdrill: compose file, rules, routing, runbook, a pyproject."""
    root = tmp_path / "cache-platform"
    shutil.copytree(PLATFORM, root)
    (root / "pyproject.toml").write_text('[project]\nname = "cache-platform"\nversion = "0"\n')
    return root


@pytest.fixture
def reviewed(platform) -> Path:
    proc = alertdrill("init", "--with-monitoring", cwd=platform)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    review(platform)
    return platform


def test_the_three_rules_are_the_vendored_rules_unmodified():
    vendored, ours = _rules(VENDORED / "oliver006-redis-exporter.yml"), _rules(PLATFORM / "rules" / "redis.yml")
    assert sorted(ours) == ["RedisDown", "RedisRejectedConnections", "RedisTooManyConnections"]
    for name, rule in ours.items():
        assert rule == vendored[name], f"{name} differs from the vendored rule"
    assert "Creative Commons Attribution 4.0" in (VENDORED / "LICENSE").read_text()
    assert "a8533189af0246de5e21a6d8d25bd37816894f07" in (VENDORED / "SOURCE.md").read_text()


def test_init_adds_the_monitoring_services_and_finds_every_service_and_its_port(platform):
    proc = alertdrill("init", "--with-monitoring", cwd=platform)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    services = yaml.safe_load((platform / "compose.yml").read_text())["services"]
    assert services["cache-prometheus"]["volumes"] == ["${ALERTDRILL_PROMETHEUS_DIR:-./prometheus}:/etc/prometheus/src:ro",
                                                       "${ALERTDRILL_RULES_DIR:-./rules}:/etc/prometheus/rules:ro"]
    assert services["cache-alertmanager"]["volumes"] == ["${ALERTDRILL_ALERTMANAGER_DIR:-./alertmanager}:/etc/alertmanager/src:ro"]
    assert services["cache-alert-sink"]["image"] == "alertdrill/platform:dev"
    assert all(s["network_mode"] == "host" for s in services.values())
    for name in ("cache-prometheus", "cache-alertmanager", "cache-alert-sink"):  # named as containers, per lane
        assert services[name]["container_name"] == "${ALERTDRILL_CONTAINER_PREFIX:-}" + name
    assert "# The cache platform" in (platform / "compose.yml").read_text()  # edited as text: comments stay
    text = (platform / "pyproject.toml").read_text()
    # the exporter's port variable is named after neither the service nor a role: its healthcheck probes it
    for service, var in (("cache-redis", "REDIS_PORT"), ("cache-exporter", "REDIS_EXPORTER_PORT"),
                         ("cache-alert-sink", "ALERT_SINK_PORT"), ("cache-prometheus", "PROMETHEUS_PORT"),
                         ("cache-alertmanager", "ALERTMANAGER_PORT")):
        assert f'"{service}" = "{var}"' in text, text
    assert "drill_factor = 15" in text  # RedisRejectedConnections' [1m] at 15 s scrapes
    again = alertdrill("init", "--with-monitoring", cwd=platform)
    assert "has cache-prometheus, cache-alertmanager, cache-alert-sink already" in again.stdout, again.stdout
    assert yaml.safe_load((platform / "compose.yml").read_text())["services"] == services


def test_check_refuses_the_drafts_and_the_missing_runbook_urls_before_any_container(platform):
    assert alertdrill("init", "--with-monitoring", cwd=platform).returncode == 0
    proc = alertdrill("check", cwd=platform)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(re.findall(r"found the draft `alertdrill init` wrote, still marked DRAFT", proc.stdout)) == 6, proc.stdout
    for alert in ("RedisDown", "RedisTooManyConnections", "RedisRejectedConnections"):
        assert re.search(rf"rules/redis.yml:\d+ {alert}: expected annotations.runbook_url .* found no runbook_url",
                         proc.stdout), proc.stdout


def test_check_passes_once_the_drafts_are_reviewed(reviewed):
    proc = alertdrill("check", cwd=reviewed)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 problem(s)" in proc.stdout
    # what it cannot derive is said, never passed: the `and` beside the threshold defeats generated series
    assert "RedisTooManyConnections: not checked" in proc.stdout


def test_a_threshold_drifted_from_the_reviewed_table_fails_check(reviewed):
    rules = reviewed / "rules" / "redis.yml"
    rules.write_text(rules.read_text().replace("* 100 > 90 and", "* 100 > 95 and"))
    proc = alertdrill("check", cwd=reviewed)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"RedisTooManyConnections: expected threshold > 90 .* found threshold > 95", proc.stdout), proc.stdout


def _write_fault(scenario: Path) -> None:
    """The one thing the team writes after init: the fault, in place of the placeholder."""
    text = scenario.read_text().replace("from alertdrill.errors import FaultNotWritten",
                                        "from alertdrill.engine.faults import StopContainer")
    lines = [("    d.inject(StopContainer('cache-redis'))" if "raise FaultNotWritten(" in line else line)
             for line in text.splitlines()]
    scenario.write_text("\n".join(lines) + "\n")


@pytest.mark.drill
def test_a_green_first_drill_from_the_reviewed_drafts(reviewed):
    assert EXPORTER.is_file(), f"{EXPORTER} is missing: run scripts/build-redis-exporter.sh (bootstrap does)"
    compose = ["docker", "compose", "-p", PROJECT, "-f", str(reviewed / "compose.yml")]
    _write_fault(reviewed / "scenarios" / "test_redis_down.py")
    try:
        assert alertdrill("check", cwd=reviewed).returncode == 0
        drill = subprocess.run([sys.executable, "-m", "pytest", "scenarios/test_redis_down.py", "-p", "no:cacheprovider",
                                "-p", "no:randomly"], cwd=reviewed, capture_output=True, text=True, timeout=900, env=ENV)
        assert drill.returncode == 0 and "1 passed" in drill.stdout, drill.stdout[-6000:] + drill.stderr[-3000:]
        assert (reviewed / ".alertdrill" / "timelines" / "test_RedisDown.json").is_file()
    finally:
        subprocess.run([*compose, "down", "--volumes", "--remove-orphans", "--timeout", "5"], cwd=reviewed,
                       capture_output=True, timeout=300)
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                              capture_output=True, text=True, timeout=60).stdout.split()
        assert not left, f"containers of {PROJECT} left behind: {left}"


def test_every_mutant_of_the_reviewed_rules_is_noticed(reviewed):
    before = (reviewed / "rules" / "redis.yml").read_text()
    proc = alertdrill("check", "--mutants", cwd=reviewed)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mutants: 15 run, 15 noticed by the checks, 0 survived" in proc.stdout, proc.stdout
    assert (reviewed / "rules" / "redis.yml").read_text() == before
    assert not (reviewed / ".alertdrill" / "mutants").exists()


def test_a_mutant_no_check_notices_is_named(reviewed):
    """Against a check that reads only the runbook_url annotations, every change to the rules survives."""
    from alertdrill import config
    from alertdrill.adopt import check
    from alertdrill.adopt.check import links, mutants

    conf = config.load(reviewed / "pyproject.toml")
    weak = [c for c in check.CHECKS if c.run is links.link_check]
    found, ran = mutants.survivors(conf, weak)
    assert ran == 15 and len(found) == 15
    assert {p.where.split(" ")[1] for p in found} == {"RedisDown", "RedisTooManyConnections", "RedisRejectedConnections"}
    assert any(str(p).startswith("rules/redis.yml:20 RedisTooManyConnections: expected a check that notices "
                                 "'threshold x1.5'; found the rules with 'threshold x1.5' pass every check.") for p in found)
    by = {(m.alert, m.change): yaml.safe_load(m.text)["groups"][0]["rules"] for m in mutants.mutants(conf)}
    rule = {r["alert"]: r for r in by[("RedisTooManyConnections", "threshold x1.5")]}["RedisTooManyConnections"]
    assert rule["expr"] == "redis_connected_clients / redis_config_maxclients * 100 > 135 and redis_config_maxclients > 0"
    rule = {r["alert"]: r for r in by[("RedisRejectedConnections", "window doubled")]}["RedisRejectedConnections"]
    assert rule["expr"] == "increase(redis_rejected_connections_total[2m]) > 5"
    assert ("RedisDown", "threshold x0.5") not in by  # `== 0` has no lower constant to move to
