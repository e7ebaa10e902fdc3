"""The runbook: parsed by alertdrill.runbook, every alert has a rule, rule tests and a route test."""
from __future__ import annotations

import re
import textwrap

import pytest

import rulekit
from alertdrill.runbook.parse import RunbookError, alert_names_in_heading, github_anchor, parse_runbook, parse_runbook_text

EXPECTED_ALERTS = list(rulekit.load_expected()["alerts"])
COMPOSE = "docker compose -f docker-compose.test.yml"


@pytest.fixture(scope="module")
def runbook():
    return parse_runbook()  # docs/runbook.md by default


def test_runbook_names_the_eleven_alerts(runbook):
    assert sorted(runbook.alert_names()) == sorted(EXPECTED_ALERTS)
    assert not runbook.duplicates


def test_coverage_every_runbook_alert_has_rule_rule_tests_and_route_test(runbook, rules, unit_tests, expected):
    gaps = rulekit.coverage_gaps(runbook.alert_names(), rules, unit_tests, expected)
    assert not gaps, "coverage gaps:\n  " + "\n  ".join(gaps)


def test_coverage_names_each_gap(rules, unit_tests, expected):
    """A runbook alert without rule/tests/route, and a test file missing a kind of check, are reported."""
    names = EXPECTED_ALERTS + ["DiskAlmostFull"]
    gaps = rulekit.coverage_gaps(names, rules, unit_tests, expected)
    assert any(g.startswith("DiskAlmostFull: no rule") for g in gaps)
    assert any(g.startswith("DiskAlmostFull: no rule test") for g in gaps)
    assert any(g.startswith("DiskAlmostFull: no route test") for g in gaps)
    crippled = dict(unit_tests, tests=[g for g in unit_tests["tests"] if "silent at 0.45" not in g.get("name", "")])
    gaps = rulekit.coverage_gaps(EXPECTED_ALERTS, rules, crippled, expected)
    assert gaps == ["EAPollErrors: no rule test (silent_below) in tests/rules/alerts_test.yml"]
    gaps = rulekit.coverage_gaps(EXPECTED_ALERTS[1:], rules, unit_tests, expected)
    assert gaps == ["HighAPILatency: a rule the runbook has no section for"]


@pytest.mark.parametrize("alert", EXPECTED_ALERTS)
def test_section_structure_and_remediation_block(alert, runbook):
    sec = runbook.section(alert)
    assert sec.alerts == [alert], "each alert has its own heading"
    assert sec.anchor == alert.lower()
    for part in ("Symptoms", "Investigation", "Remediation", "Escalation"):
        assert sec.subsections.get(part, "").strip(), f"{alert}: no {part}"
    assert sec.remediation_blocks, f"{alert}: no fenced bash block under Remediation"
    assert sec.actions and all(a.title for a in sec.actions), f"{alert}: every action needs a # title line"
    for cmd in sec.remediation_commands:
        assert cmd.startswith(("docker ", "curl ")), f"{alert}: {cmd!r} is not a command for the stack"
        if cmd.startswith("docker compose"):
            assert cmd.startswith(COMPOSE + " "), f"{alert}: {cmd!r} must use -f docker-compose.test.yml"
        assert "docker-compose " not in cmd and "kubectl" not in cmd


def test_commands_target_the_reference_stack(runbook):
    containers = {"backend", "postgres", "redis", "signal-generator", "vendor", "toxiproxy", "prometheus",
                  "alertmanager", "alert-sink"}
    for sec in runbook.sections:
        for block in sec.code_blocks:
            for m in re.finditer(r"docker (?:exec(?: -it)?|logs) ([\w-]+)", block.text):
                assert m.group(1) in containers, f"{sec.alerts}: unknown container {m.group(1)}"
            for m in re.finditer(rf"{COMPOSE} (?:restart|up -d) ([\w -]+)", block.text):
                assert set(m.group(1).split()) <= containers, m.group(0)
            for url in re.findall(r'curl -s\w* "(http://localhost:9090[^"]*)"', block.text):
                assert " " not in url and "+" not in url, f"{url}: encode it or drop the spaces"
            for line in block.text.splitlines():
                if "localhost:9090" in line and re.search(r"[\[{]", line):
                    assert re.search(r"curl -s?g|--globoff", line), f"needs curl -g: {line}"


def test_runbook_path_is_a_parameter(tmp_path):
    p = tmp_path / "mine.md"
    p.write_text("# Mine\n\n## DiskAlmostFull\n\n**Remediation**:\n```bash\n# free space\ndocker exec x rm -rf /tmp/cache\n```\n")
    rb = parse_runbook(p)
    assert rb.alert_names() == ["DiskAlmostFull"]
    assert rb.section("DiskAlmostFull").remediation_commands == ["docker exec x rm -rf /tmp/cache"]
    with pytest.raises(RunbookError, match="names no alert"):
        (tmp_path / "empty.md").write_text("# nothing\n## Docker Commands\n")
        parse_runbook(tmp_path / "empty.md")
    with pytest.raises(RunbookError, match="cannot read"):
        parse_runbook(tmp_path / "missing.md")


SEED_STYLE = textwrap.dedent("""\
    # Operational Runbook
    ## API Health Alerts
    ### HighAPILatency / CriticalAPILatency
    **Symptoms**:
    - p95 > 1 second
    **Investigation**:
    1. Check pool:
       ```bash
       curl -s "http://localhost:9090/api/v1/query?query=db_connection_pool_size"
       ```
    **Remediation**:
    - **Redis down**: restart it
    **Example Commands**:
    ```bash
    # Restart Redis
    docker-compose restart redis
    docker exec backend \\
      true
    ```
    **Escalation**:
    - Senior Engineer
    ---
    ### `RedisDisconnected`
    **Remediation**:
    1. **Redis crashed**: Restart Redis
       ```bash
       docker-compose restart redis
       ```
    ## Useful Commands Reference
    ### Docker Commands
    ```bash
    # ### NotAHeading
    docker ps
    ```
    """)


def test_parses_seed_style_combined_headings():
    rb = parse_runbook_text(SEED_STYLE)
    assert rb.alert_names() == ["HighAPILatency", "CriticalAPILatency", "RedisDisconnected"]
    sec = rb.section("CriticalAPILatency")
    assert sec is rb.section("HighAPILatency")
    assert sec.anchor == "highapilatency--criticalapilatency"
    assert list(sec.subsections) == ["Symptoms", "Investigation", "Remediation", "Escalation"]
    assert [b.subsection for b in sec.code_blocks] == ["Investigation", "Remediation"]
    assert sec.remediation_commands == ["docker-compose restart redis", "docker exec backend true"]
    assert sec.actions[0].title == "Restart Redis"
    assert rb.section("RedisDisconnected").remediation_commands == ["docker-compose restart redis"]
    assert "Docker Commands" not in rb.alert_names()


@pytest.mark.parametrize("heading,names", [
    ("HighAPILatency / CriticalAPILatency", ["HighAPILatency", "CriticalAPILatency"]),
    ("`RedisDisconnected`", ["RedisDisconnected"]),
    ("HighErrorRate, CriticalErrorRate", ["HighErrorRate", "CriticalErrorRate"]),
    ("API Health Alerts", []), ("Docker Commands", []), ("Escalation", []), ("Post-Incident Actions", []),
])
def test_alert_names_in_heading(heading, names):
    assert alert_names_in_heading(heading) == names


def test_github_anchor():
    assert github_anchor("HighAPILatency / CriticalAPILatency") == "highapilatency--criticalapilatency"
    assert github_anchor("Post-Incident Actions") == "post-incident-actions"
    assert github_anchor("`RedisDisconnected`") == "redisdisconnected"
