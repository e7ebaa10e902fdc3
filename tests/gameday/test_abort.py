"""Abort conditions, without a stack: a health probe failing past its grace, an unrelated critical alert,
the maximum duration. Each stops the drill with DrillAborted saying why (the drill then heals). The drill's
Observer is the real one, reading stand-ins of the Prometheus, sink and Docker clients that are tied to
those classes (tests/doubles.py): a method renamed on either side fails here."""
from __future__ import annotations

import http.server
import threading
import pytest

from alertdrill.engine import abort
from alertdrill.engine.abort import AbortConditions
from alertdrill.engine.context import DrillContext, Gameday
from alertdrill.engine.drill import Drill
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.observe import Observer
from alertdrill.engine.timeline import Timeline
from alertdrill.errors import DrillAborted
from alertdrill.target.clients import PrometheusClient, SinkClient
from alertdrill.target.clients.prometheus import AlertState
from alertdrill.target.stack import Stack
from tests.doubles import stand_in

EXPECT = AlertExpectation("RedisDisconnected", "critical", frozenset({"pagerduty"}))


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


def firing(name: str, severity: str) -> AlertState:
    return AlertState(name, "firing", {"alertname": name, "severity": severity}, {}, 1.0, "")


def a_drill(alerts=(), started=0.0, side_effects=None):
    """A drill whose real Observer sees `alerts` in Prometheus."""
    expect = AlertExpectation(EXPECT.alertname, EXPECT.severity, EXPECT.receivers, side_effects=side_effects or {})
    ctx = stand_in(DrillContext, prometheus=stand_in(PrometheusClient, alerts=lambda: list(alerts)),
                   sink=stand_in(SinkClient, notifications=lambda **kw: []),
                   stack=stand_in(Stack, states=lambda services: {n: "running (healthy)" for n in services}))
    return stand_in(Drill, started=started, expect=expect, obs=Observer(ctx, expect, started),
                    timeline=Timeline(scenario="test_RedisDisconnected", alert=EXPECT.alertname, factor=30.0))


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
    other = firing("HighErrorRate", "critical")
    AbortConditions(Gameday(abort_on_critical=False)).check(a_drill([other], started=clock["t"]))
    with pytest.raises(DrillAborted, match="an unrelated critical alert fired during the RedisDisconnected drill: "
                                           "HighErrorRate") as caught:
        AbortConditions(Gameday(abort_on_critical=True)).check(a_drill([other], started=clock["t"]))
    assert "HighErrorRate firing severity=critical" in str(caught.value), "the situation shows what fired"


def test_the_expected_alert_a_side_effect_or_a_warning_do_not_abort(clock):
    conditions = AbortConditions(Gameday(abort_on_critical=True))
    conditions.check(a_drill([firing("RedisDisconnected", "critical")], started=clock["t"]))
    clock["t"] += 2
    conditions.check(a_drill([firing("HighErrorRate", "critical")], started=clock["t"],
                             side_effects={"HighErrorRate": "requests fail while Redis is gone"}))
    clock["t"] += 2
    conditions.check(a_drill([firing("HighAPILatency", "warning")], started=clock["t"]))


def test_the_cli_default_aborts_on_an_unrelated_critical_alert(clock):
    """`alertdrill gameday` turns --abort-on-critical on by default: its conditions run against the real
    Observer (a stand-in once named a method the Observer no longer had, and gameday failed at its first look)."""
    import argparse

    from alertdrill import gameday

    parser = argparse.ArgumentParser()
    gameday.add_arguments(parser)
    assert parser.parse_args(["RedisDisconnected"]).abort_on_critical is True
    with pytest.raises(DrillAborted, match="unrelated critical alert"):
        AbortConditions(Gameday(abort_on_critical=True)).check(a_drill([firing("PaymentWebhookFailures", "critical")],
                                                                       started=clock["t"]))


def test_the_maximum_duration_aborts(clock):
    conditions = AbortConditions(Gameday(max_drill_s=60))
    drill = a_drill(started=clock["t"])
    clock["t"] += 59
    conditions.check(drill)
    clock["t"] += 2
    with pytest.raises(DrillAborted, match="reached its maximum duration of 60s"):
        conditions.check(drill)
