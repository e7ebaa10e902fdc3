"""Abort conditions, without a stack: a health probe failing past its grace, an unrelated critical alert,
the maximum duration. Each stops the drill with DrillAborted saying why (the drill then heals)."""
from __future__ import annotations

import http.server
import threading
from types import SimpleNamespace

import pytest

from alertdrill.engine import abort
from alertdrill.engine.abort import AbortConditions
from alertdrill.engine.context import Gameday
from alertdrill.errors import DrillAborted


class Status(http.server.BaseHTTPRequestHandler):
    code = 200

    def do_GET(self):  # noqa: N802
        self.send_response(self.server.code)
        self.end_headers()
        self.wfile.write(b"probe")

    def log_message(self, *args):
        pass


@pytest.fixture
def probe_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), Status)
    server.code = 200
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def a_drill(critical=(), started=0.0):
    return SimpleNamespace(started=started, expect=SimpleNamespace(alertname="RedisDisconnected"),
                           timeline=SimpleNamespace(scenario="test_RedisDisconnected"),
                           obs=SimpleNamespace(unexpected_critical=lambda: list(critical), situation=lambda: "situation"))


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 1000.0}
    monkeypatch.setattr(abort.time, "monotonic", lambda: now["t"])
    monkeypatch.setattr(abort.time, "time", lambda: now["t"])
    return now


def test_a_probe_failing_past_its_grace_aborts(probe_server, clock):
    url = f"http://127.0.0.1:{probe_server.server_port}/ready"
    conditions = AbortConditions(Gameday(health_probes=(url,), probe_grace_s=10))
    drill = a_drill(started=clock["t"])
    conditions.check(drill)
    probe_server.code = 503
    clock["t"] += 2
    conditions.check(drill)  # failing, within its grace
    probe_server.code = 200
    clock["t"] += 2
    conditions.check(drill)  # recovered: the grace starts again at the next failure
    probe_server.code = 503
    clock["t"] += 2
    conditions.check(drill)
    clock["t"] += 9
    conditions.check(drill)  # 9 s of failure
    clock["t"] += 2
    with pytest.raises(DrillAborted, match=r"health probe .*/ready failed for more than 10s") as caught:
        conditions.check(drill)
    assert "503" in str(caught.value) and "the faults are healed" in str(caught.value)


def test_an_unrelated_critical_alert_aborts_only_when_asked(clock):
    other = SimpleNamespace(name="HighErrorRate")
    AbortConditions(Gameday(abort_on_critical=False)).check(a_drill([other], started=clock["t"]))
    with pytest.raises(DrillAborted, match="an unrelated critical alert fired during the RedisDisconnected drill: HighErrorRate"):
        AbortConditions(Gameday(abort_on_critical=True)).check(a_drill([other], started=clock["t"]))


def test_the_maximum_duration_aborts(clock):
    conditions = AbortConditions(Gameday(max_drill_s=60))
    drill = a_drill(started=clock["t"])
    clock["t"] += 59
    conditions.check(drill)
    clock["t"] += 2
    with pytest.raises(DrillAborted, match="reached its maximum duration of 60s"):
        conditions.check(drill)
