"""One delivery: what one integration (a PagerDuty event, a Slack post, a mail, a webhook call) brought one
receiver, with the alerts read back from it and what a person saw. The store turns it into one delivery
entry and one record per alert (app.Store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

STATUSES = ("firing", "resolved")


@dataclass
class Delivery:
    receiver: str
    integration: str  # webhook | pagerduty | slack | email | opsgenie, victorops, ... (the /raw ones)
    alerts: list[dict]  # {status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint}
    seen: dict  # what the person paged, posted to or mailed saw (integration-specific)
    status: Optional[str] = None  # None: "resolved" only if every alert is (Alertmanager's group status)
    extra: dict = field(default_factory=dict)  # fields every record and the delivery entry carry (dedup_key)
    context: dict = field(default_factory=dict)  # record fields known only to some integrations (groupKey)

    @property
    def group_status(self) -> str:
        if self.status:
            return self.status
        if self.alerts and all(a.get("status") == "resolved" for a in self.alerts):
            return "resolved"
        return "firing"
