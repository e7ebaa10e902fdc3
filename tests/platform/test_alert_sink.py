"""alert_sink: the stand-in for Alertmanager's webhook, PagerDuty, Slack and mail server (uvicorn
alert_sink.app:app as a subprocess, with its SMTP receiver), and the alert-list parser they share."""

from __future__ import annotations

import importlib.util
import json
import quopri
import smtplib
import time
from types import SimpleNamespace

import pytest

from alertdrill.alerting import promtools
from servers import STACK, free_port, uvicorn_app, wait_for

pytestmark = pytest.mark.platform

ROUTING_KEY = "a3f1c2d4e5b60718293a4b5c6d7e8f90"
OTHER_KEY = "0123456789abcdef0123456789abcdef"  # well-formed (32 characters), just not this service's


@pytest.fixture(scope="module")
def sink_proc(tmp_path_factory):
    src = tmp_path_factory.mktemp("alert_sink_src")
    (src / "pagerduty-routing-key").write_text(ROUTING_KEY + "\n")
    (src / "mail-receivers.json").write_text(json.dumps({"oncall@example.com": ["pagerduty"]}))
    info = SimpleNamespace(smtp_port=free_port(), key_file=src / "pagerduty-routing-key")
    env = {"ALERT_SINK_SMTP_PORT": str(info.smtp_port), "PAGERDUTY_ROUTING_KEY_FILE": str(info.key_file),
           "ALERT_SINK_MAIL_RECEIVERS_FILE": str(src / "mail-receivers.json")}
    with uvicorn_app("alert_sink.app:app", tmp_path_factory.mktemp("alert_sink"), env=env) as (client, log_path):
        yield client, log_path, info


@pytest.fixture
def sink(sink_proc):
    client = sink_proc[0]
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


# --- the alert list (stack/alertmanager/templates/oncall.tmpl), read back --------------------------------

def _load_alert_list():
    # Loaded from its file: the parser is plain stdlib, and stack/ stays off this process's sys.path.
    spec = importlib.util.spec_from_file_location("alert_sink_alert_list", STACK / "alert_sink" / "alert_list.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


alert_list = _load_alert_list()
TEMPLATES = STACK / "alertmanager" / "templates"


def am_alert(name: str, status: str = "firing", severity: str = "critical", annotations: dict | None = None,
             **labels) -> dict:
    """An alert as Alertmanager's notification data holds it (what the templates render)."""
    return {"status": status, "labels": {"alertname": name, "severity": severity, **labels},
            "annotations": annotations if annotations is not None else {
                "summary": f"{name} summary", "runbook_url": f"https://example.com/docs/runbook.md#{name.lower()}"},
            "startsAt": "2026-12-05T10:00:00Z",
            "endsAt": "2026-12-05T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": "x"}


def listed(alerts: list[dict]) -> str:
    """What "oncall.alert_list" prints for `alerts` (test_parser_reads_amtools_rendering holds the parser to
    the real template; the protocol tests below use this so they run without amtool)."""
    out = []
    for a in alerts:
        out += ["Labels:"] + [f" - {k} = {v}" for k, v in sorted(a["labels"].items())]
        out += ["Annotations:"] + [f" - {k} = {v}" for k, v in sorted(a["annotations"].items())]
        out.append(f"Started: {a['startsAt'].replace('Z', '.000Z')}")
        if a["status"] == "resolved":
            out.append(f"Ended: {a['endsAt'].replace('Z', '.000Z')}")
        out.append(f"Source: {a['generatorURL']}")
    return "".join(line + "\n" for line in out)


def sections(alerts: list[dict]) -> str:
    """"oncall.alerts": the firing list under Firing:, the resolved one under Resolved:."""
    firing = [a for a in alerts if a["status"] == "firing"]
    resolved = [a for a in alerts if a["status"] == "resolved"]
    return (("Firing:\n" + listed(firing) if firing else "") + ("Resolved:\n" + listed(resolved) if resolved else ""))


@pytest.fixture(scope="module")
def amtool():
    try:
        return promtools.amtool()
    except promtools.ToolNotFound as e:
        pytest.skip(str(e))


def render(amtool, tmp_path, template: str, alerts: list[dict], receiver: str = "pagerduty",
           dot: str = ".") -> str:
    """amtool's rendering of `template` (of oncall.tmpl) for a notification of `alerts`, given `dot`."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    data = {"receiver": receiver, "status": status, "alerts": alerts,
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonLabels": {"alertname": alerts[0]["labels"]["alertname"]}, "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093"}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data))
    p = amtool.run("template", "render", f"--template.glob={TEMPLATES}/*.tmpl",
                   f'--template.text={{{{ template "{template}" {dot} }}}}', f"--template.data={path}")
    assert p.returncode == 0, p.stderr
    return p.stdout


MIXED = [am_alert("RedisDisconnected", annotations={
             "summary": "Backend cannot reach Redis", "runbook_url": "https://example.com/docs/runbook.md#redis",
             "description": "first line\nsecond line = with an equals sign\n - and a dash"}),
         am_alert("RedisDisconnected", status="resolved", instance="redis-2")]


def expected(a: dict) -> dict:
    return {"status": a["status"], "labels": a["labels"], "annotations": a["annotations"],
            "startsAt": a["startsAt"].replace("Z", ".000Z"),
            "endsAt": a["endsAt"].replace("Z", ".000Z") if a["status"] == "resolved" else None,
            "generatorURL": a["generatorURL"]}


def without_fingerprint(alerts: list[dict]) -> list[dict]:
    return [{k: v for k, v in a.items() if k != "fingerprint"} for a in alerts]


@pytest.mark.parametrize("template", ["oncall.text", "oncall.slack.text"])
def test_parser_reads_amtools_rendering(amtool, tmp_path, template):
    # The mail's text and the Slack text (a ``` fence around the list), as Alertmanager renders them.
    text = render(amtool, tmp_path, template, MIXED)
    assert "Firing:\nLabels:\n - alertname = RedisDisconnected\n" in text
    assert without_fingerprint(alert_list.parse(text)) == [expected(a) for a in MIXED]


def test_parser_reads_pagerdutys_bare_lists(amtool, tmp_path):
    # PagerDuty's custom_details hold each list without a heading: the caller says which it is.
    # As alertmanager.yml's details render it: {{ template "oncall.alert_list" .Alerts.Resolved }}
    text = render(amtool, tmp_path, "oncall.alert_list", MIXED, dot=".Alerts.Resolved")
    assert not text.startswith("Resolved:")
    assert without_fingerprint(alert_list.parse(text, status="resolved")) == [expected(MIXED[1])]


def test_parser_tolerates_fences_and_ignores_the_rest():
    alert = am_alert("HighAPILatency", severity="warning", route="/api/v1/signals")
    text = f"*summary*\nSeverity: warning\n```Firing:\n{listed([alert])}".rstrip("\n") + "```\n"
    assert without_fingerprint(alert_list.parse(text)) == [expected(alert)]
    assert alert_list.parse("[FIRING:1] HighAPILatency (warning)\nno list here\n```\n```") == []
    assert alert_list.parse("") == [] and alert_list.parse(None) == []


def test_fingerprint_is_alertmanagers():
    # Alertmanager 0.25's webhook gave 8ce195743a102e31 for these labels (seen beside this sink's records).
    labels = {"alertname": "RedisDisconnected", "severity": "critical", "revenue_impact": "true"}
    assert alert_list.fingerprint(labels) == "8ce195743a102e31"
    assert alert_list.parse(sections([am_alert("RedisDisconnected", revenue_impact="true")]))[0]["fingerprint"] \
        == "8ce195743a102e31"


# --- PagerDuty Events API v2 -----------------------------------------------------------------------------

def pd_event(action: str = "trigger", dedup_key: str | None = "group-1", alerts: list[dict] | None = None,
             **payload) -> dict:
    """An event as Alertmanager 0.25 sends it for the pagerduty receiver of alertmanager.yml."""
    alerts = alerts if alerts is not None else [am_alert("RedisDisconnected")]
    firing = [a for a in alerts if a["status"] == "firing"]
    resolved = [a for a in alerts if a["status"] == "resolved"]
    event = {
        "routing_key": ROUTING_KEY, "event_action": action, "client": "Alertmanager",
        "client_url": "http://127.0.0.1:9093/#/alerts?receiver=pagerduty",
        "links": [{"href": "https://example.com/docs/runbook.md#redisdisconnected", "text": "Runbook"}],
        "payload": {"summary": "[FIRING:1] RedisDisconnected (critical): Backend cannot reach Redis",
                    "source": "Alertmanager", "severity": "critical",
                    "custom_details": {"firing": listed(firing), "resolved": listed(resolved),
                                       "num_firing": str(len(firing)), "num_resolved": str(len(resolved))},
                    **payload}}
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


def q(sink, path="/notifications", **params):
    body = sink.get(path, params=params).json()
    return body["notifications" if path == "/notifications" else "deliveries"]


def test_pagerduty_accepts_alertmanagers_event(sink):
    r = sink.post("/pagerduty/pagerduty/v2/enqueue", json=pd_event())
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": "group-1"}
    [rec] = q(sink)
    assert rec["receiver"] == "pagerduty" and rec["integration"] == "pagerduty" and rec["status"] == "firing"
    assert rec["alertname"] == "RedisDisconnected" and rec["severity"] == "critical"
    assert rec["annotations"]["summary"] == "RedisDisconnected summary"
    assert rec["event_action"] == "trigger" and rec["dedup_key"] == "group-1"
    assert rec["seen"]["summary"].startswith("[FIRING:1] RedisDisconnected") and rec["seen"]["severity"] == "critical"
    assert rec["seen"]["links"][0]["text"] == "Runbook" and rec["seen"]["client"] == "Alertmanager"


def test_pagerduty_makes_up_a_missing_dedup_key(sink):
    r = sink.post("/pagerduty/pagerduty/v2/enqueue", json=pd_event(dedup_key=None))
    assert r.status_code == 202 and r.json()["dedup_key"]
    assert q(sink)[0]["dedup_key"] == r.json()["dedup_key"]


def _without(event: dict, key: str) -> dict:
    event["payload"].pop(key)
    return event


@pytest.mark.parametrize("event,field", [
    (dict(pd_event(), routing_key=OTHER_KEY), "routing_key"),
    (dict(pd_event(), routing_key=ROUTING_KEY[:-1]), "routing_key"),
    (dict(pd_event(), routing_key=None), "routing_key"),
    (_without(pd_event(), "summary"), "payload.summary"),
    (pd_event(summary="  "), "payload.summary"),
    (pd_event(summary="x" * 1025), "payload.summary"),
    (_without(pd_event(), "source"), "payload.source"),
    (pd_event(severity="page"), "payload.severity"),
    (pd_event(severity="Critical"), "payload.severity"),
    (pd_event(action="fire"), "event_action"),
    (dict(pd_event(), event_action=None), "event_action"),
    (pd_event(dedup_key="k" * 256), "dedup_key"),
    (pd_event(action="resolve", dedup_key=None), "dedup_key"),
    (dict(pd_event(), payload="RedisDisconnected"), "payload"),
])
def test_pagerduty_refuses_what_pagerduty_refuses(sink, sink_proc, event, field):
    r = sink.post("/pagerduty/pagerduty/v2/enqueue", json=event)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert any(f"'{field}'" in e for e in body["errors"]), body["errors"]
    assert q(sink) == [] and q(sink, "/deliveries") == []
    assert "WARNING alert_sink rejected receiver=pagerduty integration=pagerduty" in sink_proc[1].read_text()


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"trigger"'])
def test_pagerduty_refuses_a_body_that_is_no_event(sink, body):
    r = sink.post("/pagerduty/pagerduty/v2/enqueue", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["status"] == "invalid event" and r.json()["errors"]


def test_pagerduty_trigger_then_resolve(sink):
    alert = am_alert("RedisDisconnected")
    assert sink.post("/pagerduty/pagerduty/v2/enqueue", json=pd_event(alerts=[alert])).status_code == 202
    resolved = dict(alert, status="resolved", endsAt="2026-12-05T10:05:00Z")
    assert sink.post("/pagerduty/pagerduty/v2/enqueue",
                     json=pd_event("resolve", alerts=[resolved])).status_code == 202
    recs = q(sink, alertname="RedisDisconnected")
    assert [(r["status"], r["event_action"], r["dedup_key"]) for r in recs] == [
        ("firing", "trigger", "group-1"), ("resolved", "resolve", "group-1")]
    assert recs[0]["labels"] == recs[1]["labels"] == alert["labels"]
    assert recs[1]["endsAt"] == "2026-12-05T10:05:00.000Z" and recs[1]["fingerprint"] == recs[0]["fingerprint"]
    assert [(d["status"], d["alertnames"]) for d in q(sink, "/deliveries")] == [
        ("firing", ["RedisDisconnected"]), ("resolved", ["RedisDisconnected"])]


def test_pagerduty_resolve_without_alerts_closes_the_triggered_ones(sink):
    trigger = pd_event(dedup_key="group-2", alerts=[am_alert("PaymentWebhookFailures", revenue_impact="true")])
    assert sink.post("/pagerduty/pagerduty/v2/enqueue", json=trigger).status_code == 202
    # A resolve with no details at all (PagerDuty needs only the key); another receiver's key is not it.
    bare = {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "group-2"}
    assert sink.post("/pagerduty/pagerduty/v2/enqueue", json=bare).status_code == 202
    assert sink.post("/pagerduty/other/v2/enqueue", json=bare).status_code == 202
    [rec] = q(sink, status="resolved")
    assert rec["receiver"] == "pagerduty" and rec["labels"]["revenue_impact"] == "true"
    assert rec["alertname"] == "PaymentWebhookFailures"
    assert [d["status"] for d in q(sink, "/deliveries", receiver="other")] == ["resolved"]


def test_pagerduty_reads_the_key_file_at_each_event(sink, sink_proc):
    key_file = sink_proc[2].key_file
    try:
        key_file.write_text(OTHER_KEY)
        assert sink.post("/pagerduty/pagerduty/v2/enqueue", json=pd_event()).status_code == 400
        assert sink.post("/pagerduty/pagerduty/v2/enqueue",
                         json=dict(pd_event(), routing_key=OTHER_KEY)).status_code == 202
        key_file.unlink()
        r = sink.post("/pagerduty/pagerduty/v2/enqueue", json=pd_event())
        assert r.status_code == 400 and any(str(key_file) in e for e in r.json()["errors"]), r.json()
    finally:
        key_file.write_text(ROUTING_KEY + "\n")
    assert sink.post("/pagerduty/pagerduty/v2/enqueue", json=pd_event()).status_code == 202


# --- Slack incoming webhook ------------------------------------------------------------------------------

def slack_message(channel: str = "#oncall-alerts", alerts: list[dict] | None = None) -> dict:
    """A post as Alertmanager 0.25 sends it for alertmanager.yml's slack_configs: attachments, no text."""
    alerts = alerts if alerts is not None else [am_alert("HighAPILatency", severity="warning")]
    return {"channel": channel, "username": "Alertmanager", "icon_emoji": ":fire:", "link_names": False,
            "attachments": [{
                "title": "[FIRING:1] HighAPILatency (warning)", "title_link": "https://example.com/runbook",
                "pretext": "", "text": f"*HighAPILatency summary*\nSeverity: warning\n```\n{sections(alerts)}```",
                "fallback": "[FIRING:1] HighAPILatency warning", "callback_id": "", "footer": "",
                "color": "warning", "mrkdwn_in": ["fallback", "pretext", "text"], "fields": None, "actions": None}]}


def test_slack_accepts_alertmanagers_post(sink):
    alerts = [am_alert("HighAPILatency", severity="warning", route="/a"),
              am_alert("HighAPILatency", status="resolved", severity="warning", route="/b")]
    r = sink.post("/slack/slack-oncall-alerts", json=slack_message(alerts=alerts))
    assert r.status_code == 200 and r.text == "ok" and r.headers["content-type"].startswith("text/plain")
    recs = q(sink, receiver="slack-oncall-alerts")
    assert [(r["labels"]["route"], r["status"]) for r in recs] == [("/a", "firing"), ("/b", "resolved")]
    assert all(r["integration"] == "slack" and r["group_status"] == "firing" for r in recs)
    seen = recs[0]["seen"]
    assert seen["channel"] == "#oncall-alerts" and seen["title"] == "[FIRING:1] HighAPILatency (warning)"
    assert seen["color"] == "warning" and seen["username"] == "Alertmanager" and "```" in seen["text"]
    # Subpaths are Slack's too (a hooks URL with its tokens).
    assert sink.post("/slack/engineering-manager/T0/B0/x", json=slack_message("@engineering-manager")).text == "ok"
    assert q(sink, receiver="engineering-manager")[0]["seen"]["channel"] == "@engineering-manager"


@pytest.mark.parametrize("body,status,word", [
    (b"channel=#oncall-alerts", 400, "invalid_payload"),
    (b"[]", 400, "invalid_payload"),
    (json.dumps(dict(slack_message(), attachments="text")).encode(), 400, "invalid_payload"),
    (b'{"channel": "#oncall-alerts"}', 400, "no_text"),
    (b'{"channel": "#oncall-alerts", "text": " ", "attachments": []}', 400, "no_text"),
    (json.dumps(slack_message("#oncal-alerts")).encode(), 404, "channel_not_found"),
    (json.dumps(slack_message("@engineering_manager")).encode(), 404, "channel_not_found"),
])
def test_slack_refuses_what_slack_refuses(sink, sink_proc, body, status, word):
    r = sink.post("/slack/slack-oncall-alerts", content=body, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.text) == (status, word)
    assert q(sink) == [] and q(sink, "/deliveries") == []
    assert "WARNING alert_sink rejected receiver=slack-oncall-alerts integration=slack" in sink_proc[1].read_text()


def test_slack_plain_text_is_a_message(sink):
    assert sink.post("/slack/slack-oncall-alerts", json={"text": "deploy done"}).text == "ok"
    [d] = q(sink, "/deliveries")
    assert d["integration"] == "slack" and d["alertnames"] == [] and q(sink) == []


# --- SMTP ---------------------------------------------------------------------------------------------

def q_encoded(value: str) -> str:
    """A header value as Go's mime.QEncoding.Encode("utf-8", value) writes it (Alertmanager's headers):
    unchanged if plain ASCII, else encoded words of at most 75 characters."""
    if all(32 <= ord(c) < 127 for c in value) and "=?" not in value:
        return value
    words, word = [], ""
    for ch in value:
        enc = ("_" if ch == " " else ch if 32 < ord(ch) < 127 and ch not in "=?_"
               else "".join(f"={b:02X}" for b in ch.encode()))
        if len(f"=?utf-8?q?{word}{enc}?=") > 75:
            words, word = words + [word], ""
        word += enc
    return " ".join(f"=?utf-8?q?{w}?=" for w in words + [word])


SUBJECT = "[FIRING:1] RedisDisconnected (critical): Backend cannot reach Redis · é"


def mail(to: str, alerts: list[dict], multipart: bool = True) -> bytes:
    """A mail as Alertmanager 0.25 writes it (notify/email): Q-encoded headers, then multipart/alternative
    holding only the quoted-printable text part (html: '' in alertmanager.yml)."""
    text = f"[FIRING:1] RedisDisconnected (critical)\nRunbook: https://example.com/runbook\n\n{sections(alerts)}"
    body = quopri.encodestring(text.encode()).decode().replace("\n", "\r\n")
    part = f"Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{body}"
    head = (f"To: {q_encoded(to)}\r\nFrom: {q_encoded('alertmanager@example.com')}\r\n"
            f"Subject: {q_encoded(SUBJECT)}\r\nMessage-Id: <1@alertmanager>\r\n"
            "Date: Sat, 05 Dec 2026 10:00:30 +0000\r\n")
    if multipart:
        return (f"{head}Content-Type: multipart/alternative;  boundary=b0und\r\nMIME-Version: 1.0\r\n\r\n"
                f"--b0und\r\n{part}\r\n--b0und--\r\n").encode()
    return f"{head}MIME-Version: 1.0\r\n{part}".encode()


def send(port: int, msg: bytes, to: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.ehlo("localhost")
        # Alertmanager would STARTTLS if offered (and fail: no certificate here) and AUTH if offered.
        assert not smtp.has_extn("starttls") and not smtp.has_extn("auth")
        smtp.sendmail("alertmanager@example.com", to, msg)


def test_mail_to_a_mapped_address(sink, sink_proc):
    alerts = [am_alert("RedisDisconnected"), am_alert("RedisDisconnected", status="resolved", instance="r2")]
    msg = mail("oncall@example.com", alerts)
    assert b"Subject: =?utf-8?q?" in msg
    send(sink_proc[2].smtp_port, msg, ["oncall@example.com"])
    recs = wait_for(lambda: q(sink, integration="email"), 5)
    assert [(r["receiver"], r["status"]) for r in recs] == [("pagerduty", "firing"), ("pagerduty", "resolved")]
    assert recs[1]["labels"]["instance"] == "r2" and recs[0]["annotations"]["summary"] == "RedisDisconnected summary"
    seen = recs[0]["seen"]
    assert seen["subject"] == SUBJECT
    assert seen["from"] == "alertmanager@example.com" and seen["to"] == "oncall@example.com"
    assert seen["rcpt_tos"] == ["oncall@example.com"] and "Firing:\nLabels:\n" in seen["text"]
    [d] = q(sink, "/deliveries", integration="email")
    assert d["receiver"] == "pagerduty" and d["status"] == "firing" and d["alertnames"] == ["RedisDisconnected"]


def test_mail_to_an_unmapped_address_is_an_unexpected_receiver(sink, sink_proc):
    send(sink_proc[2].smtp_port, mail("someone@example.com", [am_alert("RedisDisconnected", status="resolved")],
                                      multipart=False), ["someone@example.com"])
    recs = wait_for(lambda: q(sink, integration="email"), 5)
    assert [(r["receiver"], r["status"]) for r in recs] == [("mail:someone@example.com", "resolved")]
    assert q(sink, "/deliveries")[0]["status"] == "resolved"


# --- other integrations, deliveries ----------------------------------------------------------------------

def test_raw_keeps_the_body(sink):
    r = sink.post("/raw/opsgenie-team/opsgenie/v2/alerts", json={"message": "RedisDisconnected", "alias": "k"})
    assert r.status_code == 200 and r.json() == {}
    assert sink.post("/raw/victorops-team/victorops", content=b"not json").status_code == 200
    recs = q(sink)
    assert [(r["receiver"], r["integration"], r["status"], r["alertname"]) for r in recs] == [
        ("opsgenie-team", "opsgenie", "firing", None), ("victorops-team", "victorops", "firing", None)]
    assert recs[0]["seen"]["body"] == {"message": "RedisDisconnected", "alias": "k"}
    assert recs[0]["seen"]["path"] == "/v2/alerts" and recs[1]["seen"]["body"] == "not json"
    assert [d["integration"] for d in q(sink, "/deliveries")] == ["opsgenie", "victorops"]


def test_deliveries_one_per_event_post_mail_and_call(sink):
    sink.post("/hook/pagerduty", json=payload("pagerduty", [alert("RedisDisconnected"), alert("HighErrorRate")]))
    time.sleep(0.05)
    mark = time.time()
    time.sleep(0.05)
    sink.post("/pagerduty/pagerduty/v2/enqueue", json=pd_event())
    sink.post("/slack/slack-oncall-alerts", json=slack_message())
    ds = q(sink, "/deliveries")
    assert [(d["receiver"], d["integration"]) for d in ds] == [
        ("pagerduty", "webhook"), ("pagerduty", "pagerduty"), ("slack-oncall-alerts", "slack")]
    assert ds[0]["alertnames"] == ["HighErrorRate", "RedisDisconnected"] and ds[0]["seen"] == {}
    assert ds[1]["dedup_key"] == "group-1" and "dedup_key" not in ds[2]
    for d in ds:
        assert {"id", "receiver", "integration", "received_at_unix", "received_at", "status", "alertnames",
                "seen"} <= d.keys()
    assert [d["integration"] for d in q(sink, "/deliveries", since=mark)] == ["pagerduty", "slack"]
    assert [d["integration"] for d in q(sink, "/deliveries", receiver="pagerduty", integration="pagerduty")] \
        == ["pagerduty"]
    assert [r["integration"] for r in q(sink, integration="webhook")] == ["webhook", "webhook"]
    assert [r["integration"] for r in q(sink, integration="slack")] == ["slack"]
    counts = sink.get("/receivers").json()["receivers"]["pagerduty"]
    assert counts["webhooks"] == 1 and counts["deliveries"] == 2 and counts["notifications"] == 3
    assert sink.delete("/notifications").status_code == 200
    assert q(sink, "/deliveries") == [] and q(sink) == []
