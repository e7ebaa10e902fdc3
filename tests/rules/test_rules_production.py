"""Production's own intervals (alertdrill.alerting.production): the Prometheus configuration as the compose
file starts it when nobody compresses time must scrape and evaluate as the runbook's pipeline table says.
The drills set their own intervals, so only this test sees production's evaluation moved to 1 m."""
from __future__ import annotations

import yaml

import rulekit
from alertdrill.alerting.production import compose_defaults, interval_problems, with_defaults

COMPOSE = rulekit.REPO / "docker-compose.test.yml"
TEMPLATE = rulekit.REPO / "stack" / "prometheus" / "prometheus.yml.tmpl"


def production(compose_text: str | None = None) -> dict:
    compose = yaml.safe_load(compose_text if compose_text is not None else COMPOSE.read_text())
    return yaml.safe_load(with_defaults(TEMPLATE.read_text(), compose_defaults(compose["services"]["prometheus"])))


def test_production_scrapes_and_evaluates_as_the_runbook_promises():
    config = production()
    assert config["global"]["scrape_interval"] == "15s" and config["global"]["evaluation_interval"] == "15s"
    assert interval_problems(config, rulekit.promises()) == []


def test_a_slower_production_evaluation_is_named():
    slower = COMPOSE.read_text().replace("EVAL_INTERVAL: ${EVAL_INTERVAL:-15s}", "EVAL_INTERVAL: ${EVAL_INTERVAL:-1m}")
    assert slower != COMPOSE.read_text()
    assert interval_problems(production(slower), rulekit.promises()) == [
        "global evaluation_interval is 1m; the runbook promises 15s"]


def test_a_job_of_its_own_pace_and_prometheus_defaults_are_named():
    config = production()
    config["scrape_configs"][0]["scrape_interval"] = "30s"
    assert interval_problems(config, rulekit.promises()) == ["job backend scrapes every 30s; the runbook promises 15s"]
    assert interval_problems({}, rulekit.promises()) == [
        "global scrape_interval is 1m; the runbook promises 15s",
        "global evaluation_interval is 1m; the runbook promises 15s"]
