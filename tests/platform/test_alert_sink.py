"""alert_sink: Alertmanager webhook receiver (uvicorn alert_sink.app:app as a subprocess)."""

from __future__ import annotations

import time

import pytest

from servers import uvicorn_app

pytestmark = pytest.mark.platform



@pytest.fixture(scope="module")
def sink_proc(tmp_path_factory):
    with uvicorn_app("alert_sink.app:app", tmp_path_factory.mktemp("alert_sink")) as (client, log_path):
        yield client, log_path


@pytest.fixture
def sink(sink_proc):
    client, _ = sink_proc
    assert client.delete("/notifications").status_code == 200
    return client


def alert(name: str, status: str = "firing", severity: str = "critical", fp: str | None = None, **labels) -> dict:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} summary", "runbook": "docs/runbook.md"},
        "startsAt": "2026-01-01T10:00:00Z",
        "endsAt": "2026-01-01T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fp or f"fp-{name.lower()}",
    }


def payload(receiver: str, alerts: list[dict], status: str | None = None) -> dict:
    status = status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved")
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alerts[0]["labels"]["alertname"]}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": alerts,
    }


def test_health(sink):
    assert sink.get("/health").json()["status"] == "ok"


def test_stores_one_record_per_alert_per_receiver(sink, sink_proc):
    r = sink.post("/hook/pagerduty", json=payload("pagerduty", [alert("RedisDisconnected"), alert("CriticalAPILatency")]))
    assert r.status_code == 200 and r.json()["stored"] == 2
    r = sink.post("/hook/slack-oncall-alerts",
                  json=payload("slack-oncall-alerts", [alert("RedisDisconnected", severity="critical")]))
    assert r.status_code == 200

    items = sink.get("/notifications").json()["notifications"]
    assert len(items) == 3
    rec = items[0]
    for key in ("receiver", "payload_receiver", "status", "alertname", "severity", "labels", "annotations",
                "startsAt", "endsAt", "fingerprint", "groupKey", "received_at", "received_at_unix"):
        assert key in rec, key
    assert rec["receiver"] == "pagerduty" and rec["payload_receiver"] == "pagerduty"
    assert rec["alertname"] == "RedisDisconnected" and rec["severity"] == "critical" and rec["status"] == "firing"
    assert rec["labels"]["alertname"] == "RedisDisconnected"
    assert rec["annotations"]["summary"] == "RedisDisconnected summary"
    assert rec["fingerprint"] == "fp-redisdisconnected" and rec["groupKey"].startswith("{}:")
    assert rec["received_at"].endswith("Z") and abs(rec["received_at_unix"] - time.time()) < 10

    counts = sink.get("/receivers").json()["receivers"]
    assert counts["pagerduty"]["notifications"] == 2 and counts["pagerduty"]["webhooks"] == 1
    assert counts["slack-oncall-alerts"]["notifications"] == 1
    assert counts["pagerduty"]["alertnames"] == ["CriticalAPILatency", "RedisDisconnected"]

    log = sink_proc[1].read_text()
    assert "alert_sink notification receiver=pagerduty status=firing alertname=RedisDisconnected" in log


def test_receiver_comes_from_the_path(sink):
    # The path names the receiver even if the payload says otherwise; the payload's is kept beside it.
    sink.post("/hook/engineering-manager", json=payload("something-else", [alert("PaymentWebhookFailures")]))
    rec = sink.get("/notifications", params={"receiver": "engineering-manager"}).json()["notifications"]
    assert len(rec) == 1 and rec[0]["payload_receiver"] == "something-else"
    assert sink.get("/notifications", params={"receiver": "something-else"}).json()["notifications"] == []


def test_filters(sink):
    sink.post("/hook/pagerduty", json=payload("pagerduty", [alert("RedisDisconnected")]))
    sink.post("/hook/slack-oncall-alerts", json=payload("slack-oncall-alerts", [alert("HighAPILatency", severity="warning")]))
    time.sleep(0.05)
    mark = time.time()
    time.sleep(0.05)
    sink.post("/hook/pagerduty", json=payload("pagerduty", [alert("RedisDisconnected", status="resolved")]))

    def q(**params):
        return sink.get("/notifications", params=params).json()["notifications"]

    assert len(q()) == 3
    assert [n["alertname"] for n in q(receiver="slack-oncall-alerts")] == ["HighAPILatency"]
    assert len(q(alertname="RedisDisconnected")) == 2
    assert len(q(alertname="RedisDisconnected", status="firing")) == 1
    assert len(q(receiver="pagerduty", status="resolved")) == 1
    assert [n["status"] for n in q(since=mark)] == ["resolved"]
    assert q(severity="warning")[0]["alertname"] == "HighAPILatency"
    assert q(receiver="nobody") == []
    assert sink.get("/notifications", params={"since": "yesterday"}).status_code == 422


def test_resolved_uses_each_alerts_own_status(sink):
    body = payload("pagerduty", [alert("RedisDisconnected", status="resolved"), alert("HighErrorRate", status="firing")])
    assert body["status"] == "firing"
    sink.post("/hook/pagerduty", json=body)
    by_name = {n["alertname"]: n for n in sink.get("/notifications").json()["notifications"]}
    assert by_name["RedisDisconnected"]["status"] == "resolved"
    assert by_name["RedisDisconnected"]["group_status"] == "firing"
    assert by_name["RedisDisconnected"]["endsAt"] == "2026-01-01T10:05:00Z"
    assert by_name["HighErrorRate"]["status"] == "firing"
    counts = sink.get("/receivers").json()["receivers"]["pagerduty"]
    assert counts["firing"] == 1 and counts["resolved"] == 1


@pytest.mark.parametrize("body,reason", [
    (b"not json at all", "JSON"),
    (b"[1, 2, 3]", "object"),
    (b'{"status": "firing", "alerts": []}', "version"),
    (b'{"version": "3", "status": "firing", "alerts": []}', "version"),
    (b'{"version": "4", "status": "firing", "alerts": {}}', "alerts"),
    (b'{"version": "4", "alerts": []}', "status"),
    (b'{"version": "4", "status": "exploded", "alerts": []}', "status"),
    (b'{"version": "4", "status": "firing", "alerts": [42]}', "alerts[0]"),
    (b'{"version": "4", "status": "firing", "alerts": [{"status": "firing"}]}', "labels"),
])
def test_garbage_is_400_with_reason(sink, body, reason):
    r = sink.post("/hook/pagerduty", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert reason in r.json()["reason"]
    assert sink.get("/notifications").json()["notifications"] == []


def test_clear(sink):
    sink.post("/hook/pagerduty", json=payload("pagerduty", [alert("RedisDisconnected")]))
    assert len(sink.get("/notifications").json()["notifications"]) == 1
    r = sink.delete("/notifications")
    assert r.status_code == 200 and r.json()["cleared"] == 1
    assert sink.get("/notifications").json()["notifications"] == []
    assert sink.get("/receivers").json()["receivers"] == {}
