"""`alertdrill init` on a repository with rules and a runbook: the configuration it writes loads and
finds everything; each alert with a runbook section gets a skeleton drill that reads like it, fails
with FaultNotWritten (never passes), and shows as a gap in coverage. Fast: no containers."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import demo_platform
from alertdrill import cli, config
from alertdrill.adopt import check, coverage, markers, receivers
from alertdrill.alerting.comparison import split_threshold
from alertdrill.engine.drill import Drill
from alertdrill.errors import ConfigError, FaultNotWritten
from alertdrill.runbook.parse import parse_runbook, parse_runbook_text
from alertdrill.runbook.promises import parse_promises
from tests.doubles import stand_in


def init(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alertdrill.cli", "init", *args], cwd=root,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def platform(tmp_path) -> Path:
    root = demo_platform.write(tmp_path / "web-platform")
    proc = init(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def test_init_writes_a_configuration_that_finds_the_platform(platform):
    conf = config.load(platform / "pyproject.toml")
    assert conf.rules == ((platform / "rules" / "web.yml").resolve(),)
    assert conf.alertmanager == (platform / "alertmanager" / "alertmanager.yml").resolve()
    assert conf.runbook == (platform / "runbook.md").resolve()
    assert conf.compose_file == (platform / "compose.yml").resolve()
    assert conf.compose_project == demo_platform.PROJECT
    assert conf.prometheus == (platform / "prometheus" / "prometheus.yml").resolve()
    assert conf.services == {"adopt-web": "WEB_PORT", "adopt-sink": "ALERT_SINK_PORT",
                             "adopt-prometheus": "PROMETHEUS_PORT", "adopt-alertmanager": "ALERTMANAGER_PORT"}
    assert {k: conf.ports[k] for k in demo_platform.PORTS} == demo_platform.PORTS
    assert conf.drill_factor == 30  # its [5m] window allows 75; capped at the default


def test_the_skeleton_reads_like_the_runbook_and_carries_the_promise(platform):
    text = (platform / "scenarios" / "test_web_down.py").read_text()
    ast.parse(text)
    assert "docker ps --filter name=adopt-web" in text  # the investigation
    # ... run as the runbook writes it, titled by its comment, once the alert fires
    assert ("    d.expect_firing()\n    d.investigate('Is the container running?', lambda: runbook_command(ctx, "
            "'WebDown', 'docker ps --filter name=adopt-web'))") in text
    assert "from alertdrill.engine.evidence import runbook_command" in text
    idle = (platform / "scenarios" / "test_web_idle.py").read_text()
    assert "# TODO: the runbook's investigation has no command to run: look at the load balancer's access log." in idle
    assert "RunbookAction('WebDown', 'The web service stopped or crashed: start it again')" in text
    ns: dict = {"__file__": "test_web_down.py"}
    exec(compile(text, "test_web_down.py", "exec"), ns)
    e = ns["EXPECTATION"]
    assert (e.alertname, e.severity, e.receivers) == ("WebDown", "critical", frozenset({"pager", "chat"}))
    assert (e.watch, e.threshold) == ('up{job="web"}', "== 0")
    with pytest.raises(FaultNotWritten, match="the drill of WebDown has no fault yet") as err:
        ns["run"](stand_in(Drill), None)
    assert "delete the placeholder line" in str(err.value)


def test_init_keeps_existing_drills_and_configuration(platform):
    before = (platform / "pyproject.toml").read_text()
    proc = init(platform)
    assert proc.returncode == 0 and "kept the existing [tool.alertdrill]" in proc.stdout
    assert (platform / "pyproject.toml").read_text() == before
    assert "wrote scenarios" not in proc.stdout  # both alerts have a (skeleton) drill now


def test_skeletons_are_gaps_in_coverage(platform):
    rows = {r.alert: r for r in coverage.coverage(config.load(platform / "pyproject.toml"))}
    assert rows["WebDown"].cells["drill"] == "skeleton"
    assert "drill test_web_down.py is a skeleton: its fault is not written" in rows["WebDown"].gaps


def test_receivers_without_amtool_walk_the_route_tree(tmp_path, monkeypatch):
    am = demo_platform.write(tmp_path) / "alertmanager" / "alertmanager.yml"
    monkeypatch.setattr(receivers.promtools, "find", lambda name: None)
    assert receivers.receivers_for(am, {"alertname": "X", "severity": "critical"}) == ["pager", "chat"]
    assert receivers.receivers_for(am, {"alertname": "X", "severity": "warning"}) == ["chat"]


def test_init_names_a_missing_runbook(tmp_path):
    root = demo_platform.write(tmp_path)
    (root / "runbook.md").unlink()
    proc = init(root)
    assert proc.returncode == 2
    assert "runbook = 'docs/runbook.md'" in proc.stderr and "does not exist" in proc.stderr


# -- thresholds: the comparison against a constant, as PromQL binds it ----------------------------------
@pytest.mark.parametrize("expr, watch, threshold, whole", [
    # the rule: the right side of `and` has no comparison, and the threshold is > 90, not > 0
    ("redis_connected_clients / redis_config_maxclients * 100 > 90 and redis_config_maxclients",
     "redis_connected_clients / redis_config_maxclients * 100", "> 90", False),
    ("rate(x_total[5m]) > 0.1 and on(job) x_enabled > 0", "rate(x_total[5m])", "> 0.1", False),
    ("a >= 3 or b > 5", "a", ">= 3", False),
    ("errors > 1 unless on(instance) maintenance == 1", "errors", "> 1", False),
    ("(sum by (job) (rate(x[5m])) <= 5)", "sum by (job) (rate(x[5m]))", "<= 5", True),
    ("(a > 3 or b) and c", "a", "> 3", False),
    ("(x > bool 90) == 1", "x", "> 90", True),
    ("up != bool 1", "up", "!= 1", True),
    ('label_replace(up, "dst", "a > 1 or b", "job", ".*") == 0', 'label_replace(up, "dst", "a > 1 or b", "job", ".*")',
     "== 0", True),
    ('up{job=~"a|>b", x!="and"} == 0', 'up{job=~"a|>b", x!="and"}', "== 0", True),
    ("90 < cpu_percent", "cpu_percent", "> 90", True),
    ("x > -1e3", "x", "> -1e3", True),
])
def test_thresholds_split_at_the_comparison_with_a_constant(expr, watch, threshold, whole):
    found = split_threshold(expr)
    assert (found.watch, found.threshold, found.whole) == (watch, threshold, whole)


def test_an_expression_without_a_constant_comparison_has_no_threshold():
    assert split_threshold('absent(up{job="web"})') is None
    assert split_threshold("a > b and c") is None
    assert split_threshold("x > bool 90").bool_modifier


# -- drafted promise tables ------------------------------------------------------------------------------
def stripped(root: Path) -> Path:
    """The demo platform with its runbook's promise tables removed: a runbook of sections only."""
    demo_platform.write(root)
    text = (root / "runbook.md").read_text()
    (root / "runbook.md").write_text(text[:text.index("## Alert index")] + text[text.index("## Alerts\n"):])
    return root


def reviewed(path: Path, only: str | None = None) -> None:
    """A person reviewed the drafts: the DRAFT lines (of `only`, or all) and their notes deleted."""
    lines = path.read_text().splitlines(keepends=True)
    keep = [line for line in lines if not (markers.what(line) and (only is None or markers.what(line) == only))]
    path.write_text("".join(keep))


def test_drafted_tables_parse_and_check_accepts_them_once_reviewed(tmp_path):
    root = stripped(tmp_path / "web")
    proc = init(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "drafted the alert index table under '## Alert index' of runbook.md" in proc.stdout
    conf = config.load(root / "pyproject.toml")
    drafted = parse_promises(parse_runbook(conf.runbook))
    original = parse_promises(parse_runbook_text(demo_platform.RUNBOOK, root / "runbook.md"))
    # severity, threshold, window, for, receivers: as written by hand; the response time is a person's to say
    assert {a: replace(p, response_time="") for a, p in drafted.alerts.items()} == \
           {a: replace(p, response_time="") for a, p in original.alerts.items()}
    assert drafted.alerts["WebDown"].response_time == "TODO"
    assert (drafted.timers, drafted.group_by, drafted.scrape_ms, drafted.evaluation_ms) == \
           (original.timers, original.group_by, original.scrape_ms, original.evaluation_ms)
    assert set(drafted.deliveries) == {"pager", "chat"}
    unreviewed = check.run(conf).failed
    assert len(unreviewed) == 6 and all("still marked DRAFT" in p.found for p in unreviewed), \
        "\n".join(map(str, unreviewed))
    assert "review the drafted alert index table" in str(unreviewed[0])
    reviewed(conf.runbook)
    assert check.run(conf).failed == []


def test_rerunning_init_changes_nothing(tmp_path):
    root = stripped(tmp_path / "web")
    init(root)
    files = {p: p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}
    proc = init(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {p: p.read_text() for p in sorted(root.rglob("*")) if p.is_file()} == files
    assert "kept the unchanged draft of the alert index table" in proc.stdout
    assert (root / "runbook.md").read_text().count("## Notification timing") == 1


def test_a_reviewed_table_is_never_overwritten_and_a_draft_is_redrafted(tmp_path):
    root = stripped(tmp_path / "web")
    init(root)
    runbook = root / "runbook.md"
    reviewed(runbook, only="alert index")
    edited = runbook.read_text().replace("the web service does not answer its scrape", "web is down, as we say it")
    edited = edited.replace("| group by | alertname |", "| group by | alertname, job |")  # a draft, edited
    runbook.write_text(edited)
    proc = init(root)
    assert "kept the reviewed alert index table under '## Alert index'" in proc.stdout
    assert "redrafted the grouping table" in proc.stdout
    text = runbook.read_text()
    assert "web is down, as we say it" in text and "| group by | alertname |" in text


def test_a_runbook_with_every_table_written_by_hand_is_left_as_it_is(platform):
    assert (platform / "runbook.md").read_text() == demo_platform.RUNBOOK
    proc = init(platform)
    assert "kept the reviewed receivers table under '## Receivers'" in proc.stdout
    assert (platform / "runbook.md").read_text() == demo_platform.RUNBOOK


# -- a platform nobody here wrote: Redis, its exporter, a prose runbook ---------------------------------
REDIS_RULES = """groups:
- name: redis
  rules:
  - alert: RedisDown
    expr: redis_up == 0
    labels: {severity: critical}
    annotations: {summary: Redis down}
  - alert: RedisTooManyConnections
    expr: redis_connected_clients / redis_config_maxclients * 100 > 90 and redis_config_maxclients
    for: 2m
    labels: {severity: warning, team: cache}
  - alert: RedisRejectedConnections
    expr: increase(redis_rejected_connections_total[1m]) > 0
    labels: {severity: critical}
"""
REDIS_AM = """route:
  receiver: chat
  group_by: [alertname, instance]
  routes: [{receiver: pager, matchers: ['severity="critical"'], continue: true}, {receiver: chat}]
inhibit_rules:
  - {source_matchers: ['alertname="RedisDown"'], target_matchers: ['alertname="RedisRejectedConnections"'], equal: [instance]}
receivers:
  - {name: pager, pagerduty_configs: [{routing_key_file: /run/secrets/pd, send_resolved: true}]}
  - {name: chat, slack_configs: [{api_url_file: /run/secrets/slack, channel: "#redis", send_resolved: true}]}
"""
REDIS_COMPOSE = """services:
  redis: {image: "redis:7", ports: ["6379:6379"]}
  redis-exporter: {image: oliver006/redis_exporter, command: ["--web.listen-address=:${METRICS_PORT:-9121}"]}
  prometheus: {image: prom/prometheus, ports: ["${PROMETHEUS_PORT:-9090}:9090"]}
"""


@pytest.fixture
def redis_platform(tmp_path) -> Path:
    root = tmp_path / "redis"
    for name, text in {"rules/redis.yml": REDIS_RULES, "alertmanager.yml": REDIS_AM, "compose.yml": REDIS_COMPOSE,
                       "runbook.md": "# Redis runbook\n\nWhen Redis misbehaves, look at it; restart it if down.\n",
                       "pyproject.toml": '[project]\nname = "redis"\n'}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = init(root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def test_every_compose_service_is_listed(redis_platform):
    text = (redis_platform / "pyproject.toml").read_text()
    conf = config.load(redis_platform / "pyproject.toml")
    # the exporter's port variable is the one only its own definition uses
    assert conf.services == {"redis-exporter": "METRICS_PORT", "prometheus": "PROMETHEUS_PORT"}
    # Redis has no port variable ([tool.alertdrill.services] needs one): listed, commented, with what to add
    assert '# "redis" = "REDIS_PORT"  # compose.yml gives it no ${..._PORT} variable: use "${REDIS_PORT:-6379}:6379"' \
        in text


def test_a_prose_runbook_gets_sections_tables_and_the_runbook_urls_to_add(redis_platform):
    conf = config.load(redis_platform / "pyproject.toml")
    promises = parse_promises(parse_runbook(conf.runbook))
    p = promises.alert("RedisTooManyConnections")
    assert (str(p.threshold), p.labels, p.receivers, p.for_ms) == ("> 90", {"team": "cache"}, ("chat",), 120_000)
    assert promises.alert("RedisDown").inhibits[0].target == "RedisRejectedConnections"
    assert promises.alert("RedisDown").inhibits[0].equal == ("instance",)
    assert promises.paged == frozenset({"critical"}) and promises.scrape_ms == 60_000
    assert promises.deliveries["chat"][0].to == "#redis"
    assert "/run/secrets" not in conf.runbook.read_text().split("## Receivers")[1].split("slack")[1]
    assert {w for _n, w in markers.markers(conf.runbook.read_text())} >= {"section RedisDown", "alert index"}
    urls = (redis_platform / ".alertdrill" / "init" / "runbook_urls.txt").read_text()
    assert 'rules/redis.yml:4 RedisDown: add under annotations: runbook_url: "runbook.md#redisdown"' in urls
    assert conf.drill_factor == 15  # the [1m] window: 60 s / (4 scrapes of 1 s)
    skeleton = (redis_platform / "scenarios" / "test_redis_too_many_connections.py").read_text()
    assert "threshold='> 90'" in skeleton and "watch='redis_connected_clients / redis_config_maxclients * 100'" \
        in skeleton


def test_init_help_shows_its_own_options(tmp_path):
    proc = init(tmp_path, "--help")
    assert proc.returncode == 0
    assert "init_args" not in proc.stdout
    assert all(o in proc.stdout for o in ("--root", "--rules", "--runbook", "--compose-file", "--force"))


# -- the drill factor: stored once, read by the CLI and by pytest -----------------------------------------
def with_factor(root: Path, table: str | None, ini: str | None) -> config.Config:
    text = (root / "pyproject.toml").read_text()
    text = re.sub(r"drill_factor = \d+[^\n]*\n|\n\[tool.pytest.ini_options\]\ndrill_factor = \"\d+\"\n", "", text)
    if table:
        text = text.replace("[tool.alertdrill]\n", f"[tool.alertdrill]\ndrill_factor = {table}\n")
    if ini:
        text += f'\n[tool.pytest.ini_options]\ndrill_factor = "{ini}"\n'
    (root / "pyproject.toml").write_text(text)
    return config.load(root / "pyproject.toml")


def test_drill_factor_precedence(platform):
    conf = with_factor(platform, "20", "12")
    assert config.drill_factor(conf, "5") == (5, "the command line")
    assert config.drill_factor(conf)[0] == 20
    assert config.drill_factor(conf, None, ini="10")[0] == 20
    conf = with_factor(platform, None, "12")
    assert config.drill_factor(conf) == (12, "drill_factor of [tool.pytest.ini_options]")
    assert config.drill_factor(conf, None, ini="10")[0] == 10  # pytest passes its own ini value
    assert config.drill_factor(with_factor(platform, None, None)) == (30, "the default")
    with pytest.raises(ConfigError, match=r"drill_factor = 0 is invalid: .*number >= 1.*e\.g\. drill_factor = 30"):
        with_factor(platform, "0", None)


def test_pytest_and_the_cli_read_the_configured_factor(platform, monkeypatch):
    from fixtures import settings as drills

    conf = with_factor(platform, "15", "12")
    previous = config.activate(conf)
    try:
        def pytest_config(option, ini):
            return stand_in(pytest.Config, getoption=lambda name, default=None, skip=False: option,
                            getini=lambda name: ini)
        assert drills._factor(pytest_config(None, "12")) == 15
        assert drills._factor(pytest_config("6", "12")) == 6
        with pytest.raises(pytest.UsageError, match=r"drill factor 100 \(from the command line\).*too large"):
            drills._factor(pytest_config("100", ""))
        monkeypatch.chdir(platform)
        assert cli.main(["render", "--out", str(platform / "copy")]) == 0  # activates the platform's configuration
        assert "alertdrill render --factor 15" in next((platform / "copy").rglob("*.yml")).read_text()
    finally:
        config.activate(previous)


def test_init_adds_a_missing_drill_factor_to_an_existing_table(platform):
    with_factor(platform, None, None)
    proc = init(platform)
    assert "added drill_factor = 30 to [tool.alertdrill]" in proc.stdout
    assert config.load(platform / "pyproject.toml").drill_factor == 30
    with_factor(platform, None, "12")
    assert "drill_factor is set in drill_factor of [tool.pytest.ini_options]" in init(platform).stdout


def test_with_monitoring_inserts_into_services_whatever_follows_and_keeps_the_rest(tmp_path):
    from alertdrill.adopt import withmonitoring

    compose = tmp_path / "docker-compose.yml"
    compose.write_text("name: shop\nservices:\n    web:  # the shop\n        image: shop/web\n\n"
                       "# volumes of the shop\nvolumes:\n    data: {}\n")
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "alertmanager.yml").write_text("route: {receiver: mail}\nreceivers:\n- name: mail\n"
                                                       "  email_configs: [{to: a@example.com}]\n")
    found = {"prometheus": "ops/prometheus.yml", "alertmanager": "ops/alertmanager.yml", "rules": ["ops/rules/*.yml"]}
    done = withmonitoring.add(compose, found, "shop")
    assert done == ["added shop-prometheus to docker-compose.yml (alertdrill/prometheus:dev)",
                    "added shop-alertmanager to docker-compose.yml (alertdrill/alertmanager:dev)",
                    "added shop-alert-sink to docker-compose.yml (alertdrill/platform:dev)"]
    text = compose.read_text()
    data = yaml.safe_load(text)
    assert list(data["services"]) == ["web", "shop-prometheus", "shop-alertmanager", "shop-alert-sink"]
    assert data["volumes"] == {"data": {}} and "# the shop" in text and "# volumes of the shop" in text
    assert "\n    shop-prometheus:  # added by `alertdrill init --with-monitoring`\n" in text  # indented as the first
    assert data["services"]["shop-prometheus"]["volumes"][1] == "${ALERTDRILL_RULES_DIR:-./ops/rules}:/etc/prometheus/rules:ro"
    # email_configs: the sink gets its SMTP port
    assert data["services"]["shop-alert-sink"]["environment"]["ALERT_SINK_SMTP_PORT"] == "${ALERT_SINK_SMTP_PORT:-9025}"
    assert withmonitoring.add(compose, found, "shop") == [
        "--with-monitoring: docker-compose.yml has shop-prometheus, shop-alertmanager, shop-alert-sink already"]
    assert compose.read_text() == text


def test_with_monitoring_without_the_files_it_mounts_says_which(tmp_path):
    from alertdrill.adopt import withmonitoring

    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  web: {image: web}\n")
    assert withmonitoring.add(compose, {"alertmanager": "alertmanager.yml"}, "p") == [
        "--with-monitoring: no prometheus, rules found: pass --prometheus (the services mount their folders)"]
    assert compose.read_text() == "services:\n  web: {image: web}\n"
