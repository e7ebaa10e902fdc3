"""The drill copy changes only where notifications go (alertdrill.alerting.delivery), and a drill judges
each page, message and mail as a person reads it (alertdrill.engine.delivered)."""
from __future__ import annotations

import copy
import json

import pytest
import yaml

import rulekit
from alertdrill.alerting.delivery import (MARKER, LocalReceivers, changes_beyond_delivery, mail_receivers, redirect,
                                          yaml_paths)
from alertdrill.alerting.drillconfig import RUN_LABEL, render_drill_config
from alertdrill.config import current as current_config
from alertdrill.engine import delivered
from alertdrill.errors import ConfigError
from alertdrill.runbook.promises import Delivery
from alertdrill.target.clients.sink import Notification

LOCAL = LocalReceivers("127.0.0.1:9095", "127.0.0.1:9025")
PORTS = {**current_config().ports, "ALERT_SINK_PORT": 9095, "ALERT_SINK_SMTP_PORT": 9025}


@pytest.fixture(scope="module")
def drill_copy(tmp_path_factory):
    out = tmp_path_factory.mktemp("drill")
    cfg = render_drill_config(30, out, ports=PORTS)
    return out, yaml.safe_load(cfg.alertmanager_file.read_text())


def test_the_drill_copy_differs_from_production_only_where_notifications_go(drill_copy):
    out, drill = drill_copy
    production = yaml.safe_load(rulekit.ALERTMANAGER.read_text())
    assert changes_beyond_delivery(production, drill, RUN_LABEL) == []
    text = (out / "alertmanager" / "alertmanager.yml").read_text()
    assert text.splitlines()[0] == MARKER  # check-config refuses any file without it
    # no address of a real service is left: every URL is local
    urls = [v for k, v in yaml_paths(drill).items() if isinstance(v, str) and v.startswith(("http://", "https://"))
            and not k.endswith(("href", "title_link", "runbook"))]
    assert urls and all(u.startswith("http://127.0.0.1:9095/") for u in urls), urls
    assert drill["global"]["smtp_smarthost"] == "127.0.0.1:9025"
    assert drill["receivers"][0]["email_configs"][0]["require_tls"] is False


def test_the_drill_copy_carries_production_s_templates_and_key(drill_copy):
    out, drill = drill_copy
    am_dir = out / "alertmanager"
    assert (am_dir / "templates" / "oncall.tmpl").read_text() == \
        (rulekit.ALERTMANAGER.parent / "templates" / "oncall.tmpl").read_text()
    key_file = drill["receivers"][0]["pagerduty_configs"][0]["routing_key_file"]
    assert (am_dir / key_file.removeprefix("/etc/alertmanager/src/")).is_file()  # the path inside the container
    assert json.loads((am_dir / "mail-receivers.json").read_text()) == {"oncall@example.com": ["pagerduty"]}


@pytest.mark.parametrize("path, value", [
    ("receivers.1.slack_configs.0.channel", "#oncal-alerts"),
    ("receivers.0.email_configs.0.to", "oncall@example.org"),
    ("receivers.0.pagerduty_configs.0.send_resolved", False),
    ("receivers.0.pagerduty_configs.0.routing_key_file", "/etc/alertmanager/src/secrets/other-team"),
    ("route.routes.0.receiver", "slack-oncall-alerts"),
    ("inhibit_rules.0.equal.0", "endpoint"),
    ("templates.0", "/tmp/other/*.tmpl"),
])
def test_any_other_change_is_named(drill_copy, path, value):
    _, drill = drill_copy
    production = yaml.safe_load(rulekit.ALERTMANAGER.read_text())
    changed = copy.deepcopy(drill)
    node = changed
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[int(leaf) if isinstance(node, list) else leaf] = value
    assert [c.split(":")[0] for c in changes_beyond_delivery(production, changed, RUN_LABEL)] == [path]


def test_every_integration_is_moved_or_refused():
    config = {"route": {"receiver": "a"}, "receivers": [
        {"name": "a", "webhook_configs": [{"url_file": "/run/secret"}],
         "opsgenie_configs": [{"api_key": "k"}], "discord_configs": [{"webhook_url": "https://discord.example/x"}]}]}
    notes = redirect(config, LOCAL)
    r = config["receivers"][0]
    assert r["webhook_configs"] == [{"url": "http://127.0.0.1:9095/hook/a"}]
    assert r["opsgenie_configs"][0]["api_url"] == "http://127.0.0.1:9095/raw/a/opsgenie/"
    assert r["discord_configs"][0]["webhook_url"] == "http://127.0.0.1:9095/raw/a/discord/"
    assert any("opsgenie_configs" in n for n in notes)
    with pytest.raises(ConfigError, match="pushover_configs, whose address this Alertmanager fixes"):
        redirect({"receivers": [{"name": "p", "pushover_configs": [{"user_key": "u"}]}]}, LOCAL)
    with pytest.raises(ConfigError, match="ALERT_SINK_SMTP_PORT"):
        redirect({"receivers": [{"name": "m", "email_configs": [{"to": "x@example.com"}]}]},
                 LocalReceivers("127.0.0.1:9095"))
    assert mail_receivers({"receivers": [{"name": "m", "email_configs": [{"to": "a@x, b@x"}]},
                                         {"name": "n", "email_configs": [{"to": "a@x"}]}]}) == \
        {"a@x": ["m", "n"], "b@x": ["m"]}


# -- what people read --------------------------------------------------------------------------------

URL = "https://example.test/docs/runbook.md#redisdisconnected"
ANN = {"summary": "Backend cannot reach Redis", "runbook_url": URL}


def note(integration: str, receiver: str, status: str = "firing", **seen) -> Notification:
    return Notification(receiver=receiver, status=status, alertname="RedisDisconnected",
                        labels={"alertname": "RedisDisconnected", "severity": "critical"}, received_at=1.0,
                        annotations=ANN, integration=integration, seen=seen, dedup_key=seen.pop("key", None))


def page(status="firing", **over):
    seen = {"summary": f"[{status.upper()}] RedisDisconnected (critical): {ANN['summary']}", "severity": "critical",
            "links": [{"href": URL, "text": "Runbook"}], "key": "k1", **over}
    return note("pagerduty", "pagerduty", status, **seen)


def slack(**over):
    seen = {"channel": "#oncall-alerts", "title": "[FIRING:1] RedisDisconnected (critical)", "title_link": URL,
            "text": f"*{ANN['summary']}*\nSeverity: critical\n```\nFiring:\nLabels:\n - summary = x\n```", **over}
    return note("slack", "slack-oncall-alerts", **seen)


def mail(**over):
    seen = {"rcpt_tos": ["oncall@example.com"], "subject": f"[FIRING:1] RedisDisconnected (critical): {ANN['summary']}",
            "text": f"headline\nRunbook: {URL}\n\nFiring:\nLabels:\n", **over}
    return note("email", "pagerduty", **seen)


PROMISED = {"pagerduty": (Delivery("pagerduty", "service"), Delivery("email", "oncall@example.com")),
            "slack-oncall-alerts": (Delivery("slack", "#oncall-alerts"),)}
RECEIVERS = {"pagerduty", "slack-oncall-alerts"}


def judged(notes, resolved=False):
    return delivered.problems(notes, "critical", RECEIVERS, PROMISED, resolved=resolved)


def test_what_people_read_as_promised_passes():
    assert judged([page(), slack(), mail()]) == []
    assert judged([page(), slack(), mail(), page("resolved")], resolved=True) == []


@pytest.mark.parametrize("notes, problem", [
    ([page(), slack()], "pagerduty: no email notice"),
    ([page(), slack(), mail(rcpt_tos=["oncall@example.org"])], "the mail went to ['oncall@example.org']"),
    ([page(), slack(channel="#oncal-alerts"), mail()], "went to ['#oncal-alerts'], not #oncall-alerts"),
    ([page(summary="[FIRING] RedisDisconnected (critical): "), slack(), mail()], "the summary"),
    ([page(severity="warning"), slack(), mail()], "the page's severity is 'warning'"),
    ([page(links=[]), slack(), mail()], "no link to the runbook section"),
    ([page(), slack(title="[FIRING:1]", text=f"*{ANN['summary']}* critical"), mail()], "RedisDisconnected is not in"),
    # the summary only in the alert list below the headline is not shown
    ([page(), slack(text=f"critical\n```\nFiring:\n - summary = {ANN['summary']}\n```"), mail()], "the summary"),
    ([page(), slack(), mail(text="no link here")], "no link to the runbook section"),
])
def test_each_way_a_notice_fails_people_is_named(notes, problem):
    found = judged(notes)
    assert any(problem in p for p in found), found


def test_an_incident_left_open_is_named_once_the_alert_resolved():
    notes = [page(), slack(), mail()]
    assert judged(notes) == []
    assert any("never resolved" in p for p in judged(notes + [mail(status="resolved")], resolved=True))

