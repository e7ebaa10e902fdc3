"""What steady means for a platform, from its configuration (alertdrill.target.health): readiness paths of
[tool.alertdrill] `ready` on their services' ports, the platform's own `steady_checks`, its database from
`postgres_dsn`; none of them by default, each wrong setting a usage error. Fast: no containers."""
from __future__ import annotations

import http.server
import threading

import pytest

from alertdrill import config
from alertdrill.config import ConfigError
from alertdrill.engine.context import DrillContext
from alertdrill.target import health
from alertdrill.target.settings import Endpoints
from tests.doubles import stand_in

SERVICES = {"web": "WEB_PORT"}


def conf_with(tmp_path, **table) -> config.Config:
    (tmp_path / "rules.yml").write_text("groups: []\n")
    (tmp_path / "am.yml").write_text("route: {receiver: r}\nreceivers: [{name: r}]\n")
    (tmp_path / "runbook.md").write_text("# R\n")
    base = {"rules": ["rules.yml"], "alertmanager": "am.yml", "runbook": "runbook.md", "services": SERVICES,
            "ports": {"WEB_PORT": 19480}}
    return config.from_table({**base, **table}, tmp_path)


class Status(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        code = 200 if self.path == "/ready" else 503
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ready" if code == 200 else b"warming up")

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = http.server.HTTPServer(("127.0.0.1", 0), Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()


def test_nothing_of_the_platform_is_assumed(tmp_path):
    conf = conf_with(tmp_path)
    assert conf.ready == {} and conf.steady_checks == () and conf.postgres_dsn == ""
    assert health.readiness(Endpoints({"WEB_PORT": 1}), conf) == [], "no readiness path asked for, none probed"
    assert health.describe(conf) == "every service healthy, no alert pending or firing"


def test_a_readiness_path_is_asked_on_its_services_port(tmp_path, web):
    ports = Endpoints({"WEB_PORT": web})
    assert health.readiness(ports, conf_with(tmp_path, ready={"web": "/ready"})) == []
    assert health.readiness(ports, conf_with(tmp_path, ready={"web": "/warm"})) == ["web /warm -> 503 warming up"]
    gone = health.readiness(Endpoints({"WEB_PORT": 9}), conf_with(tmp_path, ready={"web": "/ready"}))
    assert len(gone) == 1 and gone[0].startswith("web /ready unreachable")


def test_wrong_readiness_settings_are_usage_errors(tmp_path):
    with pytest.raises(ConfigError, match="ready.api names no service: expected one of web"):
        conf_with(tmp_path, ready={"api": "/ready"})
    with pytest.raises(ConfigError, match=r"ready.web = 'ready' is invalid: expected a path such as '/ready'"):
        conf_with(tmp_path, ready={"web": "ready"})


def test_steady_checks_are_loaded_and_a_failing_one_is_reported_not_raised(tmp_path):
    (tmp_path / "platform_checks.py").write_text(
        "def queue_drained(ctx):\n    return ['queue holds 7']\n\n"
        "def broken(ctx):\n    raise RuntimeError('no queue api')\n")
    conf = conf_with(tmp_path, steady_checks=["platform_checks:queue_drained", "platform_checks:broken"])
    ctx = stand_in(DrillContext, steady_checks=health.load_checks(conf))
    problems = health.platform_checks(ctx)
    assert problems[0] == "queue holds 7"
    assert "platform_checks.broken failed: RuntimeError('no queue api')" in problems[1]


def test_wrong_steady_checks_are_usage_errors(tmp_path):
    with pytest.raises(ConfigError, match="steady_checks entry 'platform_checks' is invalid: expected 'module:function'"):
        conf_with(tmp_path, steady_checks=["platform_checks"])
    conf = conf_with(tmp_path, steady_checks=["no_such_module_here:check"])
    with pytest.raises(ConfigError, match="'no_such_module_here:check' cannot be loaded"):
        health.load_checks(conf)


def test_the_database_comes_from_postgres_dsn_with_the_lanes_port(tmp_path):
    conf = conf_with(tmp_path, postgres_dsn="postgresql://app:pw@127.0.0.1:{POSTGRES_PORT}/ledger")
    assert config.dsn(conf, {"POSTGRES_PORT": 5632}) == "postgresql://app:pw@127.0.0.1:5632/ledger"
    with pytest.raises(ConfigError, match=r"\{POSTGRES_PORT\}|'POSTGRES_PORT' is not a port variable"):
        config.dsn(conf, {"WEB_PORT": 1})
    with pytest.raises(ConfigError, match="no postgres_dsn in"):
        config.dsn(conf_with(tmp_path), {"POSTGRES_PORT": 5432})
