"""`alertdrill init` on a repository with rules and a runbook: the configuration it writes loads and
finds everything; each alert with a runbook section gets a skeleton drill that reads like it, fails
with FaultNotWritten (never passes), and shows as a gap in coverage. Fast: no containers."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import demo_platform
from alertdrill import config
from alertdrill.adopt import coverage, receivers
from alertdrill.engine.drill import Drill
from alertdrill.errors import FaultNotWritten
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


def test_the_skeleton_reads_like_the_runbook_and_carries_the_promise(platform):
    text = (platform / "scenarios" / "test_web_down.py").read_text()
    ast.parse(text)
    assert "docker ps --filter name=adopt-web" in text  # the investigation
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
