"""Production's own intervals (alertdrill.alerting.production): production's Prometheus file, the only
place its intervals are set, must scrape and evaluate as the runbook's pipeline table says. The drills
set their own intervals, so only this test sees production's evaluation moved to 1 m."""
from __future__ import annotations

import yaml

import rulekit
from alertdrill.alerting.production import file_problems, interval_problems, intervals

COMPOSE = rulekit.REPO / "docker-compose.test.yml"
PRODUCTION = rulekit.REPO / "stack" / "prometheus" / "prometheus.yml"


def production() -> dict:
    return yaml.safe_load(PRODUCTION.read_text())


def test_production_scrapes_and_evaluates_as_the_runbook_promises():
    config = production()
    assert config["global"]["scrape_interval"] == "15s" and config["global"]["evaluation_interval"] == "15s"
    assert interval_problems(config, rulekit.promises()) == []
    assert file_problems(PRODUCTION, rulekit.promises()) == []
    assert intervals(PRODUCTION) == ("15s", "15s")


def test_a_slower_production_evaluation_is_named(tmp_path):
    slower = PRODUCTION.read_text().replace("evaluation_interval: 15s", "evaluation_interval: 1m")
    assert slower != PRODUCTION.read_text()
    (tmp_path / "prometheus.yml").write_text(slower)
    assert file_problems(tmp_path / "prometheus.yml", rulekit.promises()) == [
        f"{tmp_path / 'prometheus.yml'}: global evaluation_interval is 1m; the runbook promises 15s"]


def test_nothing_but_the_file_sets_production_intervals():
    """The compose file passes Prometheus no interval of its own (no variable, no flag): the drill copy
    of the file is what it loads (docker-compose.test.yml mounts ALERTDRILL_PROMETHEUS_DIR)."""
    prometheus = yaml.safe_load(COMPOSE.read_text())["services"]["prometheus"]
    assert not [k for k in prometheus.get("environment") or {} if "INTERVAL" in k or "TIMEOUT" in k]
    assert "interval" not in str(prometheus.get("command", ""))


def test_a_job_of_its_own_pace_and_prometheus_defaults_are_named():
    config = production()
    config["scrape_configs"][0]["scrape_interval"] = "30s"
    assert interval_problems(config, rulekit.promises()) == ["job backend scrapes every 30s; the runbook promises 15s"]
    assert interval_problems({}, rulekit.promises()) == [
        "global scrape_interval is 1m; the runbook promises 15s",
        "global evaluation_interval is 1m; the runbook promises 15s"]
