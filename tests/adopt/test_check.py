"""`alertdrill check`: this repository clean; copies of its rules, routing and runbook broken one way at a
time, each named where it is, with what was expected and what was found; what it cannot derive shown as
"not checked", never as a pass. Fast: no containers (promtool and amtool on the host)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from alertdrill import config
from alertdrill.adopt import check
from alertdrill.adopt.check import boundaries
from alertdrill.adopt.check.model import rule_line
from alertdrill.runbook.promises import AlertPromise, Threshold
from tests.doubles import stand_in

REPO = Path(__file__).resolve().parents[2]
RULES = "stack/prometheus/rules/alerts.yml"
FILES = (RULES, "stack/alertmanager/alertmanager.yml", "docs/runbook.md", "docker-compose.test.yml",
         "tests/rules/alerts_test.yml", "stack/prometheus/prometheus.yml")
TABLE = """[tool.alertdrill]
compose_file = "docker-compose.test.yml"
rules = ["stack/prometheus/rules/*.yml"]
alertmanager = "stack/alertmanager/alertmanager.yml"
runbook = "docs/runbook.md"
rule_tests = ["tests/rules/*_test.yml"]
routing_tests = []
mutation_tests = []
[tool.alertdrill.services]
redis = "REDIS_PORT"
backend = "BACKEND_PORT"
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alertdrill.cli", "check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def copy(tmp_path) -> Path:
    """This repository's rules, routing, runbook, compose file and unit tests, in its layout, in tmp_path."""
    for rel in FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, tmp_path / rel)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "theirs"\n\n' + TABLE)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_this_repository_is_clean():
    proc = cli(cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("alertdrill check: 0 problem(s), ")
    found = json.loads(cli("--json", cwd=REPO / "docs").stdout)  # found walking up, as every command
    assert found["failed"] == 0, found["problems"]


def test_a_copy_of_this_repository_is_clean(copy):
    result = check.run(config.load(copy / "pyproject.toml"), factor=30)
    assert result.failed == [], "\n".join(map(str, result.failed))


def test_a_drifted_threshold_names_the_alert_the_file_expected_and_found(copy):
    edit(copy / RULES, "sum(rate(errors_total[5m])) by (endpoint) > 0.1", "sum(rate(errors_total[5m])) by (endpoint) > 0.3")
    proc = cli(cwd=copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = rule_line((copy / RULES).read_text(), "HighErrorRate")
    [rules] = [x for x in proc.stdout.splitlines() if x.strip().startswith(f"{RULES}:{line} HighErrorRate: expected threshold")]
    assert "expected threshold > 0.1 (the runbook: docs/runbook.md, alert index, row HighErrorRate)" in rules
    assert "found threshold > 0.3" in rules and "Change: make the expression end in > 0.1" in rules
    # the generated boundary test catches it too: the rule no longer fires just past the promised 0.1
    [boundary] = [x for x in proc.stdout.splitlines() if f"{RULES}:{line} HighErrorRate: expected fires just past" in x]
    assert "'HighErrorRate fires at 1.04 x its threshold" in boundary and "got 0 firing alert(s)" in boundary
    assert proc.stdout.splitlines()[-1].startswith("alertdrill check: ") and " problem(s)," in proc.stdout


def test_a_broken_runbook_url_anchor_is_named(copy):
    edit(copy / RULES, "docs/runbook.md#redisdisconnected", "docs/runbook.md#redis-disconnected")
    result = check.run(config.load(copy / "pyproject.toml"))
    [link] = [p for p in result.failed if p.check == "runbook_url"]
    assert link.where == f"{RULES}:{rule_line((copy / RULES).read_text(), 'RedisDisconnected')} RedisDisconnected"
    assert link.expected == "a runbook_url leading to docs/runbook.md#redisdisconnected"
    assert "points at #redis-disconnected, no heading of" in link.found
    assert link.change.endswith('docs/runbook.md#redisdisconnected"')


@pytest.mark.parametrize("old, new, heading, found", [
    ("## Severity levels", "## Severities", "expected a table under the heading '## Severity levels'", "no such table"),
    ("| grouping | labels |\n|----------|--------|\n| group by | alertname, severity, route, endpoint |\n", "",
     "expected a second table under the heading '## Notification timing'", "no such table (under that heading: "),
])
def test_a_missing_runbook_table_is_named_with_the_heading_expected(copy, old, new, heading, found):
    edit(copy / "docs/runbook.md", old, new)
    proc = cli(cwd=copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [line] = [x for x in proc.stdout.splitlines() if heading in x]
    assert line.strip().startswith("docs/runbook.md, heading '") and f"found {found}" in line, line


def test_a_route_that_stops_too_early_is_named_by_the_walk_and_by_amtool(copy):
    edit(copy / "stack/alertmanager/alertmanager.yml", "continue: true", "continue: false")
    result = check.run(config.load(copy / "pyproject.toml"))
    kinds = {p.check for p in result.failed}
    assert {"routing", "amtool"} <= kinds, "\n".join(map(str, result.failed))
    assert any("receivers ['pagerduty', 'slack-oncall-alerts']" in p.expected and "delivered to ['pagerduty']" in p.found
               for p in result.failed), "\n".join(map(str, result.failed))


def test_services_and_the_drill_factor_are_checked(copy):
    edit(copy / "pyproject.toml", 'redis = "REDIS_PORT"', 'redis-cache = "REDIS_PORT"')
    result = check.run(config.load(copy / "pyproject.toml"), factor=200)
    [service] = [p for p in result.failed if p.check == "services"]
    assert service.where == "pyproject.toml [tool.alertdrill.services] redis-cache"
    assert "docker-compose.test.yml declares" in service.found and "redis" in service.found
    [factor] = [p for p in result.failed if p.check == "drill factor"]
    assert "factor 200 is too large" in factor.found and factor.where == RULES


def test_bad_usage_exits_2(copy):
    assert cli("--factor", "0", cwd=copy).returncode == 2
    assert cli("--no-such-option", cwd=copy).returncode == 2
    assert "--label-domain" in cli("--help", cwd=copy).stdout


def test_what_cannot_be_derived_is_shown_not_checked_never_passed():
    result = check.run(config.load(start=REPO))
    skipped = {p.where.split()[-1] for p in result.not_checked if p.check == "boundaries"}
    assert {"HighAPILatency", "CriticalAPILatency", "HighApprovalRejectionRate"} <= skipped
    assert "not checked:" in str(result.not_checked[0])
    assert not any(p.check == "boundaries" for p in result.failed)


def promise(threshold: str, window: str = "5m") -> AlertPromise:
    from alertdrill.alerting.durations import parse_ms

    return AlertPromise("A", "critical", Threshold.parse(threshold, "test"), parse_ms(window) if window else 0,
                        60_000, {}, ("pager",))


@pytest.mark.parametrize("expr, threshold, series", [
    ('sum by (job) (rate(hits_total{code=~"5[0-9]{2}"}[5m])) > 2', "> 2", None),
    ('sum by (job) (rate(hits_total{code=~"500|503"}[5m])) > 2', "> 2", 'hits_total{code="500"}'),
    ('sum(rate(webhook_total{outcome=~"replay|bad"}[5m])) > 0.1', "> 0.1", 'webhook_total{outcome="replay"}'),
    ("up{job=\"web\"} == 0", "== 0", 'up{job="web"}'),
    ("sum(increase(stored_total[5m])) == 0", "== 0", "stored_total"),
    ("max(queue_depth) < 10", "< 10", "queue_depth"),
])
def test_the_generic_shapes(expr, threshold, series):
    found = boundaries.derive({"alert": "A", "expr": expr}, promise(threshold))
    if series is None:
        assert isinstance(found, str) and "plain value" in found  # 5[0-9]{2} is a pattern, no value to use
        return
    assert isinstance(found, boundaries.Drive), found
    assert [s["series"] for s in found.makes[0](1.0)] == [series]


def test_a_domain_label_is_driven_on_every_value():
    found = boundaries.derive({"alert": "A", "expr": "sum(rate(errors_total[5m])) by (endpoint) > 1"}, promise("> 1"),
                              {"endpoint": ["/a", "/b", "/c"]})
    assert found.per_value and [m(1.0)[0]["series"] for m in found.makes] == \
        ['errors_total{endpoint="/a"}', 'errors_total{endpoint="/b"}', 'errors_total{endpoint="/c"}']
    assert "a ratio" in boundaries.derive({"alert": "A", "expr": "sum(rate(a[5m])) / sum(rate(b[5m])) > 1"},
                                          promise("> 1"))


def test_plan_and_drills_are_refused_with_the_check_s_lines(copy):
    """The pytest plugin runs the check first: --plan stops with a usage error, and a drill session fails
    every drill before its stack starts (fixtures/drills.py: drill_config), with the check's lines."""
    from fixtures import drills

    settings = stand_in(drills.DrillSettings, factor=Fraction(30))
    edit(copy / RULES, "sum(rate(errors_total[5m])) by (endpoint) > 0.1", "sum(rate(errors_total[5m])) by (endpoint) > 0.3")
    previous = config.activate(config.load(copy / "pyproject.toml"))
    try:
        with pytest.raises(pytest.UsageError, match=r"(?s)--plan: `alertdrill check` found problems.*HighErrorRate: "
                                                    r"expected threshold > 0.1"):
            drills._check_before_plan(settings)
        assert "HighErrorRate: expected threshold > 0.1" in drills._check_first(settings)
    finally:
        config.activate(previous)
    previous = config.activate(config.load(start=REPO))
    try:
        drills._check_before_plan(settings)  # this repository: the plan goes on
        assert drills._check_first(settings) is None  # and so do the drills
    finally:
        config.activate(previous)


def test_a_slower_production_evaluation_is_named(copy):
    edit(copy / "stack/prometheus/prometheus.yml", "evaluation_interval: 15s", "evaluation_interval: 1m")
    proc = cli(cwd=copy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("stack/prometheus/prometheus.yml: expected 15s; found global evaluation_interval is 1m. Change: set the "
            "interval to the runbook's") in proc.stdout


@pytest.mark.parametrize("configured", [True, False])
def test_a_rule_that_ignores_one_endpoint_fails_with_the_configured_label_domain(copy, configured):
    """label_domain in [tool.alertdrill]: the boundary tests drive every endpoint, so a rule that leaves one
    out fails `check` (and with it every drill session) without --label-domain on the command line."""
    domain = "scenarios/platform/label_domain.yml"
    (copy / domain).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / domain, copy / domain)
    if configured:
        edit(copy / "pyproject.toml", "[tool.alertdrill]\n", f'[tool.alertdrill]\nlabel_domain = "{domain}"\n')
    edit(copy / RULES, "expr: sum(rate(errors_total[5m])) by (endpoint) > 1",
         'expr: sum(rate(errors_total{endpoint!~"/billing.*"}[5m])) by (endpoint) > 1')
    proc = cli(cwd=copy)
    if configured:
        assert proc.returncode == 1 and re.search(r"CriticalErrorRate: expected fires just past the runbook's threshold "
                                                  r"> 1 .* on each of (\d+) values .* got (?!\1)\d+ firing", proc.stdout), proc.stdout
    else:  # one series per rule: the endpoint it happens to pick is not billing's
        assert "CriticalErrorRate" not in proc.stdout.split("[boundaries]")[0], proc.stdout


def test_a_label_domain_that_is_not_a_mapping_is_refused(copy):
    (copy / "domain.yml").write_text("- /a\n- /b\n")
    edit(copy / "pyproject.toml", "[tool.alertdrill]\n", '[tool.alertdrill]\nlabel_domain = "domain.yml"\n')
    proc = cli(cwd=copy)
    assert proc.returncode != 0 and "expected a mapping `label: [value, ...]`, got list" in proc.stdout + proc.stderr
    edit(copy / "pyproject.toml", 'label_domain = "domain.yml"', 'label_domain = "missing.yml"')
    proc = cli(cwd=copy)
    assert proc.returncode != 0 and "label_domain = 'missing.yml'" in proc.stdout + proc.stderr, proc.stdout + proc.stderr
