"""The lane (alertdrill/target/lane.py): one setting from which the compose project, the container names,
the image tag and the port block derive; lane 0 is today's stack exactly, and in another lane the runbook's
commands that drills run follow it. Fast: no containers (the compose file is checked with `docker compose
config`, which needs no engine)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alertdrill import config
from alertdrill.config import ConfigError
from alertdrill.runbook.parse import parse_runbook
from alertdrill.target import lane as lanes
from alertdrill.target.lane import Lane, rewrite
from alertdrill.target.settings import PORT_DEFAULTS, Endpoints
from alertdrill.target.stack import Stack

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("postgres", "redis", "vendor", "toxiproxy", "backend", "signal-generator", "alert-sink", "prometheus",
            "alertmanager")


@pytest.fixture
def repo_config(tmp_path, monkeypatch):
    """This repository's configuration with its state (stack.env) in tmp_path, and no lane or port
    variables inherited from the shell running the tests."""
    monkeypatch.delenv(lanes.ENV_VAR, raising=False)
    for name in PORT_DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    table = config._read(REPO / "pyproject.toml")["tool"]["alertdrill"]
    conf = config.from_table({**table, "state_dir": str(tmp_path / "state")}, REPO, REPO / "pyproject.toml")
    previous = config.activate(conf)
    yield conf
    config.activate(previous)


def make_stack(overrides=None) -> Stack:
    stack = Stack(overrides or {})
    stack.close()  # no Docker client was made; nothing to hold
    return stack


# -- the setting ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, shown", [("10", "10"), ("-1", "-1"), ('"two"', "'two'"), ("true", "True"),
                                          ("1.5", "1.5")])
def test_a_wrong_lane_in_the_configuration_names_key_value_and_the_valid_lanes(value, shown):
    with pytest.raises(ConfigError, match=rf"lane = {re.escape(shown)} is invalid: expected a lane number 0-9"):
        config.from_table({"lane": __import__("tomllib").loads(f"v = {value}")["v"]}, REPO)


@pytest.mark.parametrize("value", ["10", "one", "-2", "1.0"])
def test_a_wrong_lane_in_the_environment_names_the_variable(repo_config, monkeypatch, value):
    monkeypatch.setenv(lanes.ENV_VAR, value)
    with pytest.raises(ConfigError, match=rf"environment variable ALERTDRILL_LANE = '{re.escape(value)}' is "
                                          r"invalid: expected a lane number 0-9"):
        make_stack()


def test_the_environment_overrides_the_configured_lane(repo_config, monkeypatch):
    config.activate(config.from_table({"lane": 4, "state_dir": str(repo_config.state_dir)}, REPO))
    assert make_stack().project == "alertdrill-lane4"
    monkeypatch.setenv(lanes.ENV_VAR, "0")
    assert make_stack().project == "alertdrill"


# -- lane 0: today exactly -----------------------------------------------------------------------------
def test_lane_0_is_todays_stack_and_runs_the_runbook_as_written(repo_config):
    stack = make_stack({"X": "1"})
    assert stack.lane.number == 0 and stack.project == "alertdrill"
    assert [stack.container(s) for s in SERVICES] == list(SERVICES)
    assert stack.endpoints.ports == PORT_DEFAULTS
    assert stack.overrides == {"X": "1"}, "lane 0 adds no compose variable: the stack and its env file as before"
    script = "docker exec -it postgres psql -U postgres\ncurl -s http://localhost:8000/ready"
    assert stack.follow(script) == script


# -- lane N --------------------------------------------------------------------------------------------
def test_lane_n_moves_project_containers_image_and_every_port_by_100n(repo_config, monkeypatch):
    monkeypatch.setenv(lanes.ENV_VAR, "3")
    monkeypatch.setenv("PROMETHEUS_PORT", "19999")  # set explicitly: taken as is, in any lane
    stack = make_stack({"ALERTDRILL_RULES_DIR": "/r"})
    assert stack.project == "alertdrill-lane3" and stack.command()[2:4] == ["-p", "alertdrill-lane3"]
    assert stack.container("signal-generator") == "lane3-signal-generator"
    expected = {k: v + 300 for k, v in PORT_DEFAULTS.items()} | {"PROMETHEUS_PORT": 19999}
    assert stack.endpoints.ports == expected
    assert stack.endpoints.backend == "http://127.0.0.1:8300"
    # The compose variables, in the env file and in the runbook's environment.
    want = {"COMPOSE_PROJECT_NAME": "alertdrill-lane3", "ALERTDRILL_CONTAINER_PREFIX": "lane3-",
            "ALERTDRILL_IMAGE_TAG": "dev-lane3", "ALERTDRILL_LANE": "3", "ALERTDRILL_RULES_DIR": "/r",
            **{k: str(v) for k, v in expected.items()}}
    assert stack.overrides == want
    env_file = dict(l.split("=", 1) for l in stack.env_file.read_text().splitlines())
    assert env_file == want and stack.env_file.parent == repo_config.state_dir


def test_a_port_moved_past_65535_names_the_lane(repo_config, monkeypatch):
    config.activate(config.from_table({"ports": {"BACKEND_PORT": 65400}, "state_dir": str(repo_config.state_dir)},
                                      REPO))
    monkeypatch.setenv(lanes.ENV_VAR, "2")
    with pytest.raises(ValueError, match=r"BACKEND_PORT=65600 \(its default moved into lane 2's block\) is out of "
                                         r"range; use 1-65535, or a lower lane"):
        Endpoints.from_env()


def test_the_default_port_blocks_of_two_lanes_never_meet():
    assert lanes.overlaps(PORT_DEFAULTS) == []
    blocks = [set(Lane(n).shift(PORT_DEFAULTS).values()) for n in lanes.LANES]
    assert all(len(b) == len(PORT_DEFAULTS) for b in blocks), "a lane's own ports collide"
    assert all(not (blocks[a] & blocks[b]) for a in lanes.LANES for b in lanes.LANES if a < b)


def test_ports_that_would_meet_in_another_lane_stop_a_lane_with_both_named(repo_config, monkeypatch):
    clash = lanes.overlaps({"BACKEND_PORT": 8000, "VENDOR_PORT": 8300})
    assert clash == ["BACKEND_PORT of lane N and VENDOR_PORT of lane N-3 are both 8300 + 100*(N-3)"]
    config.activate(config.from_table({"ports": {**PORT_DEFAULTS, "VENDOR_PORT": 8300},
                                       "state_dir": str(repo_config.state_dir)}, REPO))
    make_stack()  # lane 0 uses the ports as configured: nothing moves, nothing meets
    monkeypatch.setenv(lanes.ENV_VAR, "1")
    with pytest.raises(ConfigError, match=r"lane 1: the port block of one lane meets another's: BACKEND_PORT of "
                                          r"lane N and VENDOR_PORT .*Move one of these ports"):
        make_stack()


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI with the compose plugin")
def test_the_compose_file_puts_every_service_in_the_lane(repo_config, monkeypatch):
    """`docker compose config` (no engine needed) with the lane's env file: names, image tags, ports,
    restart policy; lane 0 the runbook's names."""
    monkeypatch.setenv(lanes.ENV_VAR, "2")
    stack = make_stack()
    base = ["docker", "compose", "-f", str(REPO / "docker-compose.test.yml"), "--env-file", str(stack.env_file)]
    proc = subprocess.run([*base, "-p", stack.project, "config", "--format", "json"], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    if proc.returncode != 0 and "is not a docker command" in proc.stderr:
        pytest.skip("no compose plugin")
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    assert sorted(services) == sorted(SERVICES)
    for name, svc in services.items():
        assert svc["container_name"] == f"lane2-{name}" and svc["image"].endswith(":dev-lane2"), svc
        assert svc["restart"] == "unless-stopped", f"{name}: {svc.get('restart')}"
        assert svc["environment"]["BACKEND_PORT"] == "8200" and svc["environment"]["PROMETHEUS_PORT"] == "9290"
    monkeypatch.delenv(lanes.ENV_VAR)
    stack0 = make_stack()
    proc = subprocess.run([*base, "config", "--format", "json"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["name"] == stack0.project == "alertdrill"
    assert {n: (s["container_name"], s["image"].split(":")[1]) for n, s in data["services"].items()} == \
        {n: (n, "dev") for n in SERVICES}


# -- the rewrite of the runbook's commands -------------------------------------------------------------
L2 = {s: f"lane2-{s}" for s in SERVICES}
PORTS2 = {p: p + 200 for p in PORT_DEFAULTS.values()}


@pytest.mark.parametrize("written, run", [
    ("docker exec -it postgres psql -U postgres -d trading_signals",
     "docker exec -it lane2-postgres psql -U postgres -d trading_signals"),
    ("docker logs backend --since 10m 2>&1 | grep -i vendor | tail -n 20",
     "docker logs lane2-backend --since 10m 2>&1 | grep -i vendor | tail -n 20"),
    ("docker exec backend sh -c 'sed -i s/^X=.*/X=1/ backend/.env'",
     "docker exec lane2-backend sh -c 'sed -i s/^X=.*/X=1/ backend/.env'"),
    ("docker exec -e NAME=redis -u root --workdir /app backend env",
     "docker exec -e NAME=redis -u root --workdir /app lane2-backend env"),
    ("docker logs --tail 5 redis", "docker logs --tail 5 lane2-redis"),
    ("docker ps -a --filter name=redis", "docker ps -a --filter name=lane2-redis"),
    ("docker ps -a -f name=signal-generator --format '{{.Names}}'",
     "docker ps -a -f name=lane2-signal-generator --format '{{.Names}}'"),
    ("docker restart redis backend && docker stop vendor; docker container kill -s KILL redis",
     "docker restart lane2-redis lane2-backend && docker stop lane2-vendor; docker container kill -s KILL lane2-redis"),
    ("docker inspect --format '{{.State.Status}}' redis | grep redis",
     "docker inspect --format '{{.State.Status}}' lane2-redis | grep redis"),
    ("docker exec \\\n  redis redis-cli ping", "docker exec \\\n  lane2-redis redis-cli ping"),
    ("echo $(docker exec redis redis-cli ping)", "echo $(docker exec lane2-redis redis-cli ping)"),
    # compose commands follow through COMPOSE_PROJECT_NAME and the environment: left as written
    ("docker compose -f docker-compose.test.yml restart redis", "docker compose -f docker-compose.test.yml restart redis"),
    ("docker exec mydb psql", "docker exec mydb psql"),  # not a service of this stack
    ('curl -sg "http://localhost:9090/api/v1/query?query=redis_connected"',
     'curl -sg "http://localhost:9290/api/v1/query?query=redis_connected"'),
    ("curl -s -X POST http://127.0.0.1:8474/proxies/postgres -d '{\"enabled\": true}'",
     "curl -s -X POST http://127.0.0.1:8674/proxies/postgres -d '{\"enabled\": true}'"),
    ("curl -s http://localhost:1234/ http://localhost:80001 http://example.com:8000/",
     "curl -s http://localhost:1234/ http://localhost:80001 http://example.com:8000/"),
])
def test_the_rewrite_moves_container_names_and_localhost_ports_only(written, run):
    assert rewrite(written, L2, PORTS2) == run


def test_every_docker_command_and_port_of_the_runbook_follows_the_lane():
    """Counted independently of the rewrite: each `docker exec|logs [-it] S` of the runbook becomes
    `... lane2-S`, and no runbook port is left on localhost."""
    runbook = parse_runbook(REPO / "docs" / "runbook.md")
    text = "\n".join([c for s in runbook.sections for b in s.investigation_blocks if b.is_shell for c in b.commands()]
                     + [c for s in runbook.sections for a in s.actions for c in a.commands])
    moved = Lane(2).follow(text, SERVICES, PORTS2)
    for s in SERVICES:
        before = len(re.findall(rf"docker (?:exec|logs)(?: -it)? {s}\b", text))
        assert len(re.findall(rf"docker (?:exec|logs)(?: -it)? lane2-{s}\b", moved)) == before, s
        assert not re.search(rf"docker (?:exec|logs)(?: -it)? {s}\b", moved), s
    assert len(re.findall(r"docker (?:exec|logs)", text)) >= 10, "the runbook's docker commands were not all read"
    assert not re.search(r"(?:localhost|127\.0\.0\.1):(?:%s)\b" % "|".join(map(str, PORT_DEFAULTS.values())), moved)
    assert moved.count("docker compose -f docker-compose.test.yml") == text.count("docker compose -f docker-compose.test.yml")


def test_two_port_variables_on_one_port_are_named():
    assert lanes.overlaps({"BACKEND_PORT": 8000, "API_PORT": 8000}) == ["BACKEND_PORT, API_PORT share 8000 in every lane"]


def test_parallel_workers_each_drill_in_a_lane_of_their_own_with_their_own_state_dir(tmp_path):
    """`pytest -n 2`: worker gw0 in the configured lane, gw1 in the next, each with its own state dir
    (stack.env, drill copy, loads), so two stacks of one checkout never share a file."""
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "lanes"
    out.mkdir()
    (tmp_path / "test_where.py").write_text(
        "import os, pytest\n"
        "from alertdrill import config\n"
        "from alertdrill.target.lane import current\n"
        "@pytest.mark.parametrize('i', range(4))\n"
        "def test_where(i):\n"
        f"    p = {str(out)!r} + '/' + os.environ['PYTEST_XDIST_WORKER']\n"
        "    open(p, 'w').write(f'{current().number} {config.current().state_dir}')\n")
    env = {k: v for k, v in os.environ.items() if k not in (lanes.ENV_VAR, config.STATE_DIR_VAR)}
    proc = subprocess.run([sys.executable, "-m", "pytest", str(tmp_path / "test_where.py"), "-n", "2", "-q",
                           "-p", "no:cacheprovider", f"--rootdir={tmp_path}", "-o", "testpaths=",
                           f"--alertdrill-config={root / 'pyproject.toml'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = {p.name: p.read_text().split() for p in out.iterdir()}
    assert seen["gw0"][0] == "0" and seen["gw1"][0] == "1", seen
    assert seen["gw0"][1].endswith("lane0") and seen["gw1"][1].endswith("lane1"), seen
