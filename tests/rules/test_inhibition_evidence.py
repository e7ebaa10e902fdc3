"""The inhibition evidence (alertdrill.engine.evidence.wait_inhibited) against a stand-in Alertmanager: it
waits for the twin to arrive, passes once the twin is inhibited, and fails a twin that is there and not
inhibited after the settle, not after the whole wait."""
from __future__ import annotations

import time
import pytest

from alertdrill.alerting.timings import Timings
from alertdrill.engine.context import DrillContext
from alertdrill.engine.evidence import notified_elsewhere, wait_inhibited
from alertdrill.errors import InvestigationFailed, NotInhibited
from alertdrill.runbook.promises import AlertPromise, Inhibition, Promises, Threshold
from alertdrill.target.clients import AlertmanagerClient, PrometheusClient
from tests.doubles import stand_in

SOURCE, TWIN, ROUTE = "CriticalAPILatency", "HighAPILatency", {"route": "/market"}


def _ctx(alerts_over_time, settle=0.5):
    """alerts_over_time(elapsed) -> the alerts Alertmanager lists at that moment."""
    start = time.monotonic()
    rule = Inhibition(target=TWIN, equal=("route",))

    def promise(name: str) -> AlertPromise:
        return AlertPromise(name, "critical", Threshold.read("> 5"), 300_000, 120_000, {}, ("pagerduty",),
                            inhibits=(rule,) if name == SOURCE else ())

    return stand_in(
        DrillContext, promises=stand_in(Promises, alert=promise),
        alertmanager=stand_in(AlertmanagerClient, alerts=lambda **kw: alerts_over_time(time.monotonic() - start)),
        prometheus=stand_in(PrometheusClient, alerts=lambda: []),
        timings=stand_in(Timings, deadline_margin_s=settle))


def _twin(inhibited_by=()):
    return {"labels": {"alertname": TWIN, **ROUTE},
            "status": {"state": "suppressed" if inhibited_by else "active", "inhibitedBy": list(inhibited_by)}}


def test_a_twin_inhibited_once_it_arrives_passes():
    ctx = _ctx(lambda t: [] if t < 1.0 else [_twin(["abc"])])
    assert "inhibited by 1" in wait_inhibited(ctx, SOURCE, ROUTE, timeout=10)


def test_a_twin_there_and_not_inhibited_fails_after_the_settle_not_the_whole_wait():
    reads = []
    ctx = _ctx(lambda t: reads.append(t) or [_twin()])
    with pytest.raises(NotInhibited, match="is active but not inhibited"):
        wait_inhibited(ctx, SOURCE, ROUTE, timeout=30)
    assert len(reads) == 2, f"read Alertmanager {len(reads)} times: the verdict waits for the settle (0.5 s) only"


def test_a_twin_inhibited_within_the_settle_passes():
    ctx = _ctx(lambda t: [_twin()] if t < 0.2 else [_twin(["abc"])], settle=3.0)
    assert "inhibited by 1" in wait_inhibited(ctx, SOURCE, ROUTE, timeout=10)


def test_a_twin_that_never_arrives_fails_at_the_wait():
    ctx = _ctx(lambda t: [])
    with pytest.raises(InvestigationFailed, match="has not reached Alertmanager") as caught:
        wait_inhibited(ctx, SOURCE, ROUTE, timeout=1.5)
    assert not isinstance(caught.value, NotInhibited)


def _elsewhere_ctx(notified: list[dict], source_firing: bool = True):
    """The twin's firing notices as the sink lists them, and the source firing or not in Prometheus."""
    from alertdrill.target.clients.prometheus import AlertState
    from alertdrill.target.clients.sink import Notification, SinkClient

    rule = Inhibition(target=TWIN, equal=("route",))

    def promise(name: str) -> AlertPromise:
        return AlertPromise(name, "critical" if name == SOURCE else "warning", Threshold.read("> 5"), 300_000,
                            120_000, {}, ("pagerduty",) if name == SOURCE else ("slack-oncall-alerts",),
                            inhibits=(rule,) if name == SOURCE else ())

    notes = [Notification(receiver=n["receiver"], status="firing", alertname=TWIN, labels={"alertname": TWIN, **n["labels"]},
                          received_at=10.0) for n in notified]
    firing = [AlertState(SOURCE, "firing", {"alertname": SOURCE, "route": "/approvals"}, {}, 6.0, "")] if source_firing else []
    return stand_in(DrillContext, promises=stand_in(Promises, alert=promise),
                    sink=stand_in(SinkClient, notifications=lambda **kw: notes),
                    prometheus=stand_in(PrometheusClient, alerts=lambda: firing))


def test_the_twin_of_another_label_value_reaching_its_receivers_passes():
    ctx = _elsewhere_ctx([{"receiver": "slack-oncall-alerts", "labels": ROUTE}])
    assert notified_elsewhere(ctx, SOURCE, ROUTE, since=0) == f"{TWIN}{ROUTE} reached slack-oncall-alerts"


def test_the_twin_of_another_label_value_silenced_is_named():
    ctx = _elsewhere_ctx([{"receiver": "slack-oncall-alerts", "labels": {"route": "/other"}}])
    with pytest.raises(InvestigationFailed, match=r"HighAPILatency \{'route': '/market'\} did not reach "
                                                  r"\['slack-oncall-alerts'\] while CriticalAPILatency fired"):
        notified_elsewhere(ctx, SOURCE, ROUTE, since=0)
    with pytest.raises(InvestigationFailed, match="CriticalAPILatency is not firing"):
        notified_elsewhere(_elsewhere_ctx([], source_firing=False), SOURCE, ROUTE, since=0)
