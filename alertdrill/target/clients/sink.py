"""The alert sink: which notifications each receiver got."""
from __future__ import annotations

from dataclasses import dataclass, field

from alertdrill.target.clients.http import HttpApi
from alertdrill.target.clients.timestamps import epoch


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str  # firing | resolved
    alertname: str
    labels: dict
    received_at: float
    annotations: dict = field(default_factory=dict)
    # The alert's endsAt: for a resolved notice, when Prometheus saw it end (Alertmanager stops treating
    # it as active, e.g. as an inhibition source, from then on); None while it fires.
    ends_at: float | None = None
    # How it reached people: the integration (pagerduty, slack, email, webhook, ...) and what its
    # delivery showed (the page's summary, the message's channel and text, the mail's subject, ...).
    integration: str = "webhook"
    seen: dict = field(default_factory=dict)
    dedup_key: str | None = None  # PagerDuty's incident key: a resolve must carry the trigger's

    def describe(self) -> str:
        via = f" by {self.integration}" if self.integration != "webhook" else ""
        return f"{self.receiver}{via}: {self.alertname} {self.status} at {self.received_at:.1f}"


class SinkClient(HttpApi):
    def notifications(self, *, receiver: str | None = None, alertname: str | None = None,
                      status: str | None = None, since: float | None = None) -> list[Notification]:
        params = {k: v for k, v in
                  {"receiver": receiver, "alertname": alertname, "status": status, "since": since}.items()
                  if v is not None}
        resp = self._http.get("/notifications", params=params)
        resp.raise_for_status()
        return [
            Notification(
                receiver=n["receiver"],
                status=n["status"],
                alertname=n.get("alertname") or n.get("labels", {}).get("alertname", ""),
                labels=n.get("labels", {}),
                annotations=n.get("annotations") or {},
                received_at=float(n["received_at_unix"] if "received_at_unix" in n else n["received_at"]),
                ends_at=epoch(n.get("endsAt")),
                integration=n.get("integration") or "webhook",
                seen=n.get("seen") or {},
                dedup_key=n.get("dedup_key"),
            )
            for n in resp.json()["notifications"]
        ]

    def clear(self) -> None:
        self._http.delete("/notifications").raise_for_status()
