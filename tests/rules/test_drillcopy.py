"""The drill copy's pipeline (alertdrill.alerting.drillcopy), one test per step, and each pipeline as a
whole on production's own files: scale the timers, label the run, group by run, point the receivers at
the local sinks, fill in the ports and the intervals."""
from __future__ import annotations

import pytest
import yaml

import rulekit
from alertdrill.alerting import drillcopy, durations
from alertdrill.alerting.delivery import MARKER, LocalReceivers
from alertdrill.alerting.drillcopy import RUN_LABEL, RUN_NOTE

PROMETHEUS = rulekit.REPO / "stack" / "prometheus" / "prometheus.yml"
PORTS = {"BACKEND_PORT": 8100, "SIGNAL_GENERATOR_PORT": 8101, "TOXIPROXY_PORT": 8574, "PROMETHEUS_PORT": 9190,
         "ALERTMANAGER_PORT": 9193}


def test_scale_rules_scales_windows_and_for_only(rules):
    out = yaml.safe_load(drillcopy.scale_rules(rulekit.RULES.read_text(), 30))
    prod, drill = rulekit.alert_rules(rules), rulekit.alert_rules(out)
    assert set(prod) == set(drill)
    for name, rule in prod.items():
        d = drill[name]
        assert durations.parse_ms(d["for"]) * 30 == durations.parse_ms(rule["for"])
        assert d["expr"] == rule["expr"].replace("[5m]", "[10s]")
        assert d["labels"] == rule["labels"] and d["annotations"] == rule["annotations"]


def test_scale_rules_warns_about_wall_clock_seconds():
    text = "groups:\n- name: g\n  rules:\n  - alert: Old\n    expr: time() - x > 600\n    for: 1m\n"
    with pytest.warns(UserWarning, match="Old: .* wall-clock seconds"):
        out = yaml.safe_load(drillcopy.scale_rules(text, 30))
    assert out["groups"][0]["rules"][0]["for"] == "2s"


def test_label_run_is_one_rewrite_for_the_render_and_for_each_drill():
    """Every alerting rule is labelled ("none" when rendered, the drill's own before each drill), a rule
    added since the render too; recording rules and comments are left alone."""
    text = ("# production rules\ngroups:\n- name: g\n  rules:\n  - record: r:x\n    expr: x\n"
            "  - alert: A\n    expr: x > 1\n    labels: {severity: warning}\n")
    rendered = drillcopy.label_run(text)
    data = yaml.safe_load(rendered)
    assert data["groups"][0]["rules"][0] == {"record": "r:x", "expr": "x"}
    assert data["groups"][0]["rules"][1]["labels"] == {"severity": "warning", RUN_LABEL: "none"}
    added = rendered.replace("  - alert: A", "  - alert: B\n    expr: y > 0\n  - alert: A")
    drilled = drillcopy.label_run(added, "test_A-1")
    assert [r.get("labels", {}).get(RUN_LABEL) for r in yaml.safe_load(drilled)["groups"][0]["rules"]] == \
           [None, "test_A-1", "test_A-1"]
    assert drilled.startswith("# production rules\n") and drilled.count(RUN_NOTE) == 1


def test_scale_routing_scales_timers(am):
    out = yaml.safe_load(drillcopy.scale_routing(rulekit.ALERTMANAGER.read_text(), 30))
    assert (out["route"]["group_wait"], out["route"]["group_interval"], out["route"]["repeat_interval"]) == ("1s", "10s", "8m")
    assert out["global"]["resolve_timeout"] == "10s"
    assert out["receivers"] == am["receivers"] and out["inhibit_rules"] == am["inhibit_rules"]
    with pytest.raises(ValueError, match="no top-level `route:`"):
        drillcopy.scale_routing("receivers: []\n", 30)


def test_group_by_run_on_every_route_that_groups():
    text = ("route:\n  receiver: a\n  group_by: [alertname]\n  routes:\n  - receiver: b\n"
            "  - receiver: c\n    group_by: ['...']\n  - receiver: d\n    group_by: [alertname, endpoint]\n")
    route = yaml.safe_load(drillcopy.group_by_run(text))["route"]
    assert route["group_by"] == ["alertname", RUN_LABEL]
    assert "group_by" not in route["routes"][0]  # inherits its parent's
    assert route["routes"][1]["group_by"] == ["..."]  # already groups by every label
    assert route["routes"][2]["group_by"] == ["alertname", "endpoint", RUN_LABEL]
    assert drillcopy.group_by_run(drillcopy.group_by_run(text)).count(RUN_LABEL) == \
           drillcopy.group_by_run(text).count(RUN_LABEL)


def test_fill_ports_fills_every_placeholder_and_names_an_unknown_one():
    filled = drillcopy.fill_ports(PROMETHEUS.read_text(), PORTS)
    assert "${" not in filled and "127.0.0.1:9193" in filled and "127.0.0.1:8100" in filled
    with pytest.raises(ValueError, match=r"uses \$\{BACKEND_PORT\}, which is not a port variable"):
        drillcopy.fill_ports(PROMETHEUS.read_text(), {k: v for k, v in PORTS.items() if k != "BACKEND_PORT"},
                             source="prometheus.yml")


def test_set_intervals_sets_the_drill_intervals():
    text = ("global: {scrape_interval: 15s, scrape_timeout: 10s, evaluation_interval: 15s}\n"
            "scrape_configs:\n  - job_name: b\n    scrape_interval: 30s\n    scrape_timeout: 20s\n")
    out = yaml.safe_load(drillcopy.set_intervals(text))
    assert out["global"] == {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    assert out["scrape_configs"][0]["scrape_interval"] == "1s" and out["scrape_configs"][0]["scrape_timeout"] == "1s"


def test_the_prometheus_copy_is_production_with_ports_and_intervals(promtool, tmp_path):
    production = yaml.safe_load(drillcopy.fill_ports(PROMETHEUS.read_text(), PORTS))
    copy = yaml.safe_load(drillcopy.prometheus_copy(PROMETHEUS.read_text(), PORTS, "1s", "1s"))
    assert copy["global"] == {**production["global"], "scrape_interval": "1s", "scrape_timeout": "1s",
                              "evaluation_interval": "1s"}
    assert {k: v for k, v in copy.items() if k != "global"} == {k: v for k, v in production.items() if k != "global"}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(copy))
    p = promtool.run("check", "config", "--syntax-only", tmp_path / "prometheus.yml")
    assert p.returncode == 0, p.stdout + p.stderr


def test_the_routing_copy_is_scaled_grouped_and_delivered_locally(tmp_path):
    text, notes = drillcopy.routing_copy(rulekit.ALERTMANAGER.read_text(), 30, LocalReceivers("127.0.0.1:9095", "127.0.0.1:9025"),
                                         tmp_path, rulekit.ALERTMANAGER)
    assert text.splitlines()[0] == MARKER
    data = yaml.safe_load(text)
    assert data["route"]["group_wait"] == "1s" and RUN_LABEL in data["route"]["group_by"]
    assert (tmp_path / "templates" / "oncall.tmpl").is_file()
    plain, _ = drillcopy.routing_copy(rulekit.ALERTMANAGER.read_text(), 1, LocalReceivers("127.0.0.1:9095", "127.0.0.1:9025"),
                                      tmp_path / "x1", rulekit.ALERTMANAGER, run_label=False)
    assert RUN_LABEL not in plain and yaml.safe_load(plain)["route"]["group_wait"] == \
           yaml.safe_load(rulekit.ALERTMANAGER.read_text())["route"]["group_wait"]
