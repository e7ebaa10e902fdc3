"""`alertdrill coverage`: every alert of this repository complete; a small second platform's gaps
named, and --fail-on-gap turning them into a non-zero exit. Fast: no containers."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import demo_platform
from alertdrill import config
from alertdrill.adopt import coverage

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alertdrill.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_this_repository_has_every_alert_complete():
    rows = coverage.coverage(config.load(start=REPO))
    assert len(rows) == 11
    assert [r.alert for r in rows if r.gaps] == [], "\n".join(f"{r.alert}: {r.gaps}" for r in rows)
    proc = cli("coverage", "--fail-on-gap", cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "11 of 11 alerts complete" in proc.stdout


def test_last_passed_comes_from_passing_timelines_only(tmp_path):
    conf = config.load(start=REPO)
    (tmp_path / "test_RedisDisconnected.json").write_text(json.dumps(
        {"alert": "RedisDisconnected", "outcome": "passed", "events": [{"at": 1795000000.0}]}))
    (tmp_path / "test_HighErrorRate.json").write_text(json.dumps(
        {"alert": "HighErrorRate", "outcome": "failed", "events": [{"at": 1795000000.0}]}))
    (tmp_path / "broken.json").write_text(json.dumps(
        {"alert": "EAPollErrors", "outcome": "passed", "broken_on_purpose": True, "events": [{"at": 1.0}]}))
    rows = {r.alert: r for r in coverage.coverage(conf, tmp_path)}
    assert rows["RedisDisconnected"].last_passed.timestamp() == 1795000000.0
    assert rows["HighErrorRate"].last_passed is None and rows["EAPollErrors"].last_passed is None
    assert "2026-11-18" in coverage.table(list(rows.values()))


def test_a_second_platform_shows_its_gaps_and_fails_the_gate(tmp_path):
    root = demo_platform.write(tmp_path)
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text() + (
        '[tool.alertdrill]\nrules = ["rules/*.yml"]\nalertmanager = "alertmanager/alertmanager.yml"\n'
        'runbook = "runbook.md"\nrule_tests = []\nrouting_tests = []\nmutation_tests = []\n'))
    rows = {r.alert: r for r in coverage.coverage(config.load(root / "pyproject.toml"))}
    assert set(rows) == {"WebDown", "WebIdle"}
    assert rows["WebDown"].gaps == ["no promtool test expects it to fire", "no routing test", "no mutation tests",
                                    "no drill"]
    assert rows["WebIdle"].gaps[-1] == "runbook section lacks remediation"
    assert rows["WebDown"].cells["runbook"] == "#webdown"
    proc = cli("coverage", "--fail-on-gap", cwd=root / "rules")  # `alertdrill check` passes first
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "0 of 2 alerts complete" in proc.stdout and "gap: WebIdle:" in proc.stdout
    assert cli("coverage", cwd=root).returncode == 0  # without --fail-on-gap it only reports
    # `alertdrill check` runs first: with WebIdle's runbook_url gone, coverage stops there, saying so
    rules = root / "rules" / "web.yml"
    rules.write_text(rules.read_text().replace("          runbook_url: runbook.md#webidle\n", ""))
    proc = cli("coverage", cwd=root / "rules")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "rules/web.yml:12 WebIdle: expected annotations.runbook_url leading to runbook.md#webidle" in proc.stdout
    assert "alerts complete" not in proc.stdout
    assert cli("coverage", "--no-check", cwd=root).returncode == 0  # --no-check: the gaps, without the check


def test_a_routing_and_unit_test_fill_their_columns(tmp_path):
    root = demo_platform.write(tmp_path)
    (root / "web_test.yml").write_text(
        "rule_files: [rules/web.yml]\ntests:\n  - interval: 1m\n    input_series: []\n    alert_rule_test:\n"
        "      - {eval_time: 2m, alertname: WebDown, exp_alerts: [{exp_labels: {severity: critical}}]}\n")
    (root / "routes.yml").write_text("alerts:\n  WebDown: {receivers: [pager, chat]}\n")
    (root / "pyproject.toml").write_text((root / "pyproject.toml").read_text() + (
        '[tool.alertdrill]\nrules = ["rules/*.yml"]\nalertmanager = "alertmanager/alertmanager.yml"\n'
        'runbook = "runbook.md"\nrule_tests = ["*_test.yml"]\nrouting_tests = ["routes.yml"]\n'
        'mutation_tests = []\n'))
    row = next(r for r in coverage.coverage(config.load(root / "pyproject.toml")) if r.alert == "WebDown")
    assert row.cells["promtool"] == "1 case(s)" and row.cells["routing"] == "pager,chat"
    assert row.gaps == ["no mutation tests", "no drill"]


def test_mutants_are_counted_from_the_mutation_tests_declarations():
    rows = {r.alert: r for r in coverage.coverage(config.load(start=REPO))}
    assert rows["RedisDisconnected"].cells["mutants"] == "9 declared"  # 7 rule kinds + 2 receivers
    assert rows["SignalIngestionStopped"].cells["mutants"] == "11 declared"  # + revenue label, 3 receivers
    conf = config.load(start=REPO)
    no_mutation_tests = config.Config(**{**conf.__dict__, "mutation_tests": ()})
    row = next(r for r in coverage.coverage(no_mutation_tests) if r.alert == "RedisDisconnected")
    assert row.cells["mutants"] == "-" and row.gaps == ["no mutation tests"]
