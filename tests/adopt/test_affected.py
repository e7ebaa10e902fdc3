"""`alertdrill affected --base REF` and pytest's `--affected-since REF`: in a git repository holding a copy of
this one's rules, routing, templates, runbook, compose file, scenarios and broken-alerting table, one
change at a time selects the drills it can affect and says why; nothing else. Fast: git, no containers."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from alertdrill import config
from alertdrill.adopt import affected, affected_report
from tests.adopt.test_check import REPO, RULES, TABLE

AM = "stack/alertmanager/alertmanager.yml"
RUNBOOK = "docs/runbook.md"
FILES = (RULES, AM, "stack/alertmanager/templates/oncall.tmpl", RUNBOOK, "docker-compose.test.yml",
         "stack/prometheus/prometheus.yml", "tests/rules/alerts_test.yml", "tests/drill/test_breakages.py",
         "tests/drill/breakage.py", "scenarios/platform/label_domain.yml")
CRITICAL = {"CriticalAPILatency", "CriticalErrorRate", "DatabaseConnectionPoolExhausted", "RedisDisconnected",
            "SignalIngestionStopped", "PaymentWebhookFailures"}
PYTHON = [sys.executable]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", *args], cwd=repo,
                          check=True, capture_output=True, text=True, timeout=60).stdout


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository with this one's alerting, runbook, scenarios and broken-alerting table, committed."""
    for rel in (*FILES, *[p.relative_to(REPO).as_posix() for p in (REPO / "scenarios").rglob("*.py")]):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, tmp_path / rel)
    (tmp_path / "locustfiles").mkdir()
    (tmp_path / "locustfiles" / "dashboard.py").write_text("# a load profile\n")
    (tmp_path / "README.md").write_text("# theirs\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "theirs"\n\n' + TABLE)
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "the platform's alerting")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


def select(repo: Path, base: str = "HEAD~1") -> affected.Affected:
    return affected.affected(config.load(repo / "pyproject.toml"), base)


def names(found: affected.Affected) -> set[str]:
    return {d.name for d in found.selected}


def cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PYTHON, "-m", "alertdrill.cli", "affected", *args], cwd=repo, capture_output=True,
                          text=True, timeout=120)


def test_a_threshold_selects_its_alert_and_its_inhibition_partner(repo):
    edit(repo / RULES, "sum(rate(errors_total[5m])) by (endpoint) > 0.1", "sum(rate(errors_total[5m])) by (endpoint) > 0.2")
    commit(repo, "HighErrorRate at 0.2/s")
    found = select(repo)
    assert names(found) == {"HighErrorRate", "CriticalErrorRate"}
    assert found.alerts["HighErrorRate"] == [f"its rule changed (expr) in {RULES}"]
    assert found.alerts["CriticalErrorRate"] == ["inhibition partner of HighErrorRate"]
    assert found.pytest_args(repo) == ["scenarios/test_critical_error_rate.py", "scenarios/test_high_error_rate.py",
                                       "tests/drill/test_breakages.py", "-k", "CriticalErrorRate or HighErrorRate"]


def test_the_command_line_prints_each_drill_with_why_and_the_pytest_command(repo):
    edit(repo / RULES, "sum(rate(errors_total[5m])) by (endpoint) > 0.1", "sum(rate(errors_total[5m])) by (endpoint) > 0.2")
    commit(repo, "HighErrorRate at 0.2/s")
    proc = cli(repo, "--base", "HEAD~1")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("alertdrill affected: 1 changed file(s) since HEAD~1 (merge base ")
    assert lines[1] == ("CriticalErrorRate (test_critical_error_rate.py::test_CriticalErrorRate, 3 broken-alerting "
                        "row(s)): inhibition partner of HighErrorRate")
    assert lines[2] == (f"HighErrorRate (test_high_error_rate.py::test_HighErrorRate, 1 broken-alerting row(s)): "
                        f"its rule changed (expr) in {RULES}")
    assert lines[3:] == ["run them: pytest scenarios/test_critical_error_rate.py scenarios/test_high_error_rate.py "
                         "tests/drill/test_breakages.py -k 'CriticalErrorRate or HighErrorRate'"]
    args = cli(repo, "--base", "HEAD~1", "--pytest-args").stdout.strip()
    assert args.endswith("-k 'CriticalErrorRate or HighErrorRate'")
    found = json.loads(cli(repo, "--base", "HEAD~1", "--json").stdout)
    assert [(d["drill"], d["tests"][0]) for d in found["drills"]] == [
        ("CriticalErrorRate", "scenarios/test_critical_error_rate.py::test_CriticalErrorRate"),
        ("HighErrorRate", "scenarios/test_high_error_rate.py::test_HighErrorRate")]
    assert found["drills"][1]["tests"][1] == "tests/drill/test_breakages.py[HighErrorRate-warning-to-pagerduty]"


def test_uncommitted_edits_count_and_comments_select_nothing(repo):
    edit(repo / RULES, "      - alert: RedisDisconnected", "      # the one that pages most\n      - alert: RedisDisconnected")
    found = select(repo, "HEAD")
    assert names(found) == set() and found.idle == [f"{RULES}: no rule means anything else (comments or layout)"]
    edit(repo / RULES, "redis_connected == 0", "redis_connected < 1")
    assert names(select(repo, "HEAD")) == {"RedisDisconnected"}


def test_a_change_to_the_pagerduty_route_selects_every_critical_alert(repo):
    edit(repo / AM, "    - receiver: pagerduty\n      matchers: ['severity=\"critical\"']\n",
         "    - receiver: pagerduty\n      matchers: ['severity=\"critical\"']\n      group_wait: 10s\n")
    found = select(repo, "HEAD")
    assert {a for a, why in found.alerts.items() if "inhibition partner" not in why[0]} == CRITICAL
    assert names(found) == CRITICAL | {"HighAPILatency", "HighErrorRate"}  # the warnings they inhibit
    assert found.alerts["RedisDisconnected"] == [
        f"a route that delivers it to ['pagerduty', 'slack-oncall-alerts'] changed (matchers, timers, grouping or "
        f"time intervals) in {AM}"]


def test_an_inhibit_rule_and_a_receiver_select_the_alerts_they_reach(repo):
    edit(repo / AM, "    equal: [route]", "    equal: [route, instance]")
    assert names(select(repo, "HEAD")) == {"CriticalAPILatency", "HighAPILatency"}
    git(repo, "checkout", "--", AM)
    edit(repo / AM, "      - channel: '@engineering-manager'", "      - channel: '@cto'")
    found = select(repo, "HEAD")
    assert names(found) == {"SignalIngestionStopped", "PaymentWebhookFailures"}
    assert found.alerts["SignalIngestionStopped"] == [f"its receiver engineering-manager changed in {AM}"]


def test_a_template_selects_every_alert_its_receivers_render(repo):
    with (repo / "stack/alertmanager/templates/oncall.tmpl").open("a") as f:
        f.write('{{ define "oncall.unused" }}nothing{{ end }}\n')
    found = select(repo, "HEAD")
    assert len(names(found)) == 11 and not found.everything  # every alert reaches #oncall-alerts
    assert found.alerts["HighErrorRate"][0].startswith("the notification template "
                                                       "stack/alertmanager/templates/oncall.tmpl changed")


def test_a_runbook_section_selects_its_alert_and_partners(repo):
    edit(repo / RUNBOOK, "- logins and sessions fail,", "- logins, sessions and device pairings fail,")
    found = select(repo, "HEAD")
    assert names(found) == {"RedisDisconnected"}
    assert found.alerts["RedisDisconnected"] == [f"its runbook section changed ({RUNBOOK})"]
    edit(repo / RUNBOOK, "| pagerduty | `30s` | `5m` | `4h` |", "| pagerduty | `30s` | `5m` | `3h` |")
    assert names(select(repo, "HEAD")) == CRITICAL | {"HighAPILatency", "HighErrorRate"}


def test_scenarios_select_their_drills(repo):
    with (repo / "scenarios/test_quiet_spike.py").open("a") as f:
        f.write("# a comment\n")
    assert names(select(repo, "HEAD")) == {"quiet_spike"}
    edit(repo / "tests/drill/test_breakages.py", '"HighErrorRate-warning-to-pagerduty"', '"HighErrorRate-warning-paged"')
    assert names(select(repo, "HEAD")) == {"quiet_spike", "HighErrorRate", "CriticalErrorRate"}
    git(repo, "checkout", "--", ".")
    with (repo / "scenarios/_common.py").open("a") as f:
        f.write("# a comment\n")
    found = select(repo, "HEAD")
    users = {p.stem for p in (repo / "scenarios").glob("test_*.py") if "_common" in p.read_text()}
    assert {d.path.stem for d in found.selected} == users | {"test_critical_api_latency", "test_high_error_rate",
                                                             "test_high_api_latency", "test_critical_error_rate"}
    assert found.drills["quiet_deploy"] == ["scenarios/_common.py, which its scenario imports, changed"]


@pytest.mark.parametrize("path", ["docker-compose.test.yml", "locustfiles/dashboard.py", "stack/backend/app.py"])
def test_the_platform_and_the_stack_select_every_drill(repo, path):
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    with (repo / path).open("a") as f:
        f.write("\n# changed\n")
    found = select(repo, "HEAD")
    assert found.everything and len(found.selected) == len(found.every) == 16
    assert found.pytest_args(repo) == ["scenarios", "tests/drill/test_breakages.py"]


def test_a_readme_or_the_rules_tests_select_nothing(repo):
    (repo / "README.md").write_text("# theirs, and how to run it\n")
    with (repo / "tests/rules/alerts_test.yml").open("a") as f:
        f.write("# more cases soon\n")
    commit(repo, "docs")
    found = select(repo)
    assert found.selected == [] and found.pytest_args(repo) == []
    assert found.idle == ["README.md: read by no drill", "tests/rules/alerts_test.yml: read by no drill"]
    assert cli(repo, "--base", "HEAD~1").stdout.splitlines()[-1] == "no drill is affected"


def test_a_bad_ref_exits_2_saying_what_was_given_and_what_to_try(repo):
    proc = cli(repo, "--base", "origin/nope")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--base 'origin/nope' is not a commit of the repository" in proc.stderr
    assert "`git rev-parse --verify origin/nope^{commit}` failed" in proc.stderr
    assert "git fetch origin main" in proc.stderr


def test_pytest_deselects_the_drills_no_change_affects(repo):
    edit(repo / RULES, "redis_connected == 0", "redis_connected < 1")
    found = select(repo, "HEAD")
    items = [(repo / "scenarios/test_redis_disconnected.py", "test_RedisDisconnected[crashed]", True),
             (repo / "scenarios/test_high_error_rate.py", "test_HighErrorRate", True),
             (repo / "tests/drill/test_breakages.py", "test_broken_alerting_fails_the_drill[RedisDisconnected-renamed]", True),
             (repo / "tests/drill/test_breakages.py", "test_broken_alerting_fails_the_drill[HighErrorRate-warning-to-pagerduty]", True),
             (repo / "tests/rules/test_x.py", "test_fast", False)]
    keep, drop = found.split(items, lambda i: i)
    assert [i[1] for i in drop] == ["test_HighErrorRate", "test_broken_alerting_fails_the_drill[HighErrorRate-warning-to-pagerduty]"]
    assert affected_report.header(found)[0].startswith("alertdrill: --affected-since HEAD: 1 drills selected, 15 deselected")


STUB = '''import pytest

pytestmark = pytest.mark.drill


def _expectation(AlertExpectation):
    return AlertExpectation.from_runbook("{alert}")


def test_{alert}():
    pass
'''
# The plugin of this checkout (a worktree's editable install may map alertdrill.fixtures to another one).
SHIM = textwrap.dedent(f"""
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("alertdrill.fixtures", {str(REPO / 'fixtures' / '__init__.py')!r},
                                                  submodule_search_locations=[{str(REPO / 'fixtures')!r}])
    sys.modules["alertdrill.fixtures"] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import pytest
    sys.exit(pytest.main(sys.argv[1:]))
""")


def test_pytest_option_affected_since(repo):
    """A pytest run in the project: only the affected drills are collected, and the header says why."""
    shutil.rmtree(repo / "scenarios")
    (repo / "scenarios").mkdir()
    for alert in ("RedisDisconnected", "HighErrorRate", "CriticalErrorRate"):
        (repo / f"scenarios/test_{alert.lower()}.py").write_text(STUB.format(alert=alert))
    commit(repo, "stubs")
    edit(repo / RULES, "sum(rate(errors_total[5m])) by (endpoint) > 1", "sum(rate(errors_total[5m])) by (endpoint) > 2")
    proc = subprocess.run([*PYTHON, "-c", SHIM, "scenarios", "--collect-only", "-p", "no:cacheprovider",
                           "--affected-since", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "alertdrill: --affected-since HEAD: 2 drills selected, 1 deselected" in proc.stdout
    assert "  CriticalErrorRate: its rule changed (expr) in stack/prometheus/rules/alerts.yml" in proc.stdout
    assert "  HighErrorRate: inhibition partner of CriticalErrorRate" in proc.stdout
    collected = proc.stdout.split("deselected (merge base")[1]
    assert "<Function test_HighErrorRate>" in collected and "<Function test_RedisDisconnected>" not in collected
    assert "2/3 tests collected (1 deselected)" in proc.stdout
    git(repo, "checkout", "--", RULES)
    (repo / "README.md").write_text("# theirs, reworded\n")
    nothing = subprocess.run([*PYTHON, "-c", SHIM, "scenarios", "-p", "no:cacheprovider", "--affected-since", "HEAD"],
                             cwd=repo, capture_output=True, text=True, timeout=120)
    assert nothing.returncode == 0, nothing.stdout + nothing.stderr  # not pytest's 5: nothing to drill is a pass
    assert "alertdrill: --affected-since HEAD: 0 drills selected, 3 deselected" in nothing.stdout
    bad = subprocess.run([*PYTHON, "-c", SHIM, "scenarios", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "--affected-since", "nope"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 4 and "--affected-since nope: --base 'nope' is not a commit" in bad.stderr
