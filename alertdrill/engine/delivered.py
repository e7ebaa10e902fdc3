"""What people received: each page, message and mail of the drill's alert as the person on call reads it,
held to the runbook's Receivers table (which integration, to where), and Alertmanager's own count of the
notifications it failed to send. `record` keeps both on the timeline; verdicts.delivered_as_promised
judges them with the other verdicts.

A notice must show the alert, its severity, its summary and the link to its runbook section (the
runbook's "Receivers"); a PagerDuty incident opened must be closed by a resolve with the same dedup key.
Webhooks are read by machines, so only that they arrived is judged (by the other verdicts)."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from alertdrill.engine.observe import MONITORING_ERRORS, since_range
from alertdrill.errors import NotificationMissing
from alertdrill.target.clients.sink import Notification

if TYPE_CHECKING:
    from alertdrill.engine.runner import DrillRun
    from alertdrill.runbook.promises import Delivery

# Per integration: where a person reads the headline, and the rest of what they see (links included).
_HEADLINE = {"pagerduty": ("summary",), "slack": ("title", "text"), "email": ("subject",)}
_BODY = {"pagerduty": ("summary", "links"), "slack": ("title", "title_link", "text"),
         "email": ("subject", "text")}
_FAILED = "alertmanager_notifications_failed_total"


# Where a notification's list of alerts (labels and annotations, for the record) begins: what people
# must see is judged on the text before it, not on the raw annotations listed after.
_ALERT_LIST = re.compile(r"^(?:```)?\s*(?:Firing|Resolved):\s*$", re.M)


def _text(n: Notification, keys: tuple[str, ...]) -> str:
    parts = [n.seen.get(k) for k in keys]
    text = "\n".join(p if isinstance(p, str) else json.dumps(p) for p in parts if p)
    return _ALERT_LIST.split(text, maxsplit=1)[0]


def shown(n: Notification) -> dict:
    """What a person saw of one delivery, compactly, for the timeline and the report."""
    keep = {"pagerduty": ("summary", "severity", "links"), "slack": ("channel", "title", "title_link", "text"),
            "email": ("rcpt_tos", "subject", "text")}.get(n.integration, ())
    return {k: n.seen[k] for k in keep if k in n.seen}


def shown_problems(n: Notification, severity: str) -> list[str]:
    """What the person reading `n` would miss: the alert, its severity, its summary, its runbook link."""
    if n.integration not in _HEADLINE:
        return []
    where, headline, body = f"{n.receiver} by {n.integration}", _text(n, _HEADLINE[n.integration]), _text(n, _BODY[n.integration])
    problems = []
    if n.alertname not in headline:
        problems.append(f"{where}: {n.alertname} is not in what people read first ({headline[:160]!r})")
    summary = str(n.annotations.get("summary", "")).strip()
    if summary and summary not in body:
        problems.append(f"{where}: the summary {summary!r} is not shown")
    if n.integration == "pagerduty" and n.seen.get("severity") != severity:
        problems.append(f"{where}: the page's severity is {n.seen.get('severity')!r}, not {severity!r}")
    elif n.integration != "pagerduty" and not re.search(rf"\b{re.escape(severity)}\b", headline + "\n" + body):
        problems.append(f"{where}: the severity {severity!r} is not shown")
    link = str(n.annotations.get("runbook_url", "")).strip()
    if link and link not in body:
        problems.append(f"{where}: no link to the runbook section {link}")
    return problems


def destination_problems(notes: list[Notification], receiver: str, want: "Delivery") -> list[str]:
    """Whether `receiver` reached people by `want`'s integration, where the runbook says."""
    got = [n for n in notes if n.receiver == receiver and n.integration == want.integration and n.status == "firing"]
    if not got:
        seen = sorted({n.integration for n in notes if n.receiver == receiver})
        return [f"{receiver}: no {want.integration} notice (the runbook: to {want.to}); it sent by "
                f"{', '.join(seen) or 'nothing'}"]
    if want.integration == "slack" and not any(n.seen.get("channel") == want.to for n in got):
        return [f"{receiver}: the Slack message went to {sorted({str(n.seen.get('channel')) for n in got})}, "
                f"not {want.to}"]
    if want.integration == "email" and not any(want.to in (n.seen.get("rcpt_tos") or []) for n in got):
        return [f"{receiver}: the mail went to {sorted({a for n in got for a in n.seen.get('rcpt_tos') or []})}, "
                f"not {want.to}"]
    return []


def resolve_problems(notes: list[Notification]) -> list[str]:
    """Every PagerDuty incident the drill opened was closed by a resolve with its dedup key."""
    opened = {(n.receiver, n.dedup_key) for n in notes if n.integration == "pagerduty" and n.status == "firing"}
    closed = {(n.receiver, n.dedup_key) for n in notes if n.integration == "pagerduty" and n.status == "resolved"}
    return [f"{r}: the PagerDuty incident {key} was never resolved (no resolve with its dedup key): it stays open "
            f"and the on-call engineer stays paged" for r, key in sorted(opened - closed, key=str)]


def problems(notes: list[Notification], severity: str, receivers, deliveries: dict, *, resolved: bool) -> list[str]:
    """Everything the people on call would miss or be wrong about, from the drill's notices of its alert.
    `resolved`: the alert resolved and its resolved notices were awaited, so incidents must be closed."""
    out = [p for r in sorted(receivers) for want in deliveries.get(r, ()) for p in destination_problems(notes, r, want)]
    out += sorted({p for n in notes if n.status == "firing" for p in shown_problems(n, severity)})
    return out + (resolve_problems(notes) if resolved else [])


def failed_notifications(d: "DrillRun") -> list[str]:
    """Notifications Alertmanager failed to send since the drill began (its own counter, per integration),
    each with the errors it logged: a failed page is a page nobody got."""
    try:
        # From the fault on: nothing of this drill's alert is sent before it, and an earlier drill's failed
        # notices (retried for Alertmanager's 10 s minimum notify timeout, which no factor compresses) end
        # before: counted from the drill's start, a range rounded up caught them.
        injected = d.timeline.first("injected")
        since = injected.at if injected else d.started
        failed = d.ctx.prometheus.query(f"increase({_FAILED}[{since_range(since)}]) > 0")
    except MONITORING_ERRORS as exc:  # reported, not judged: nothing is known either way
        d.report(f"  ! Alertmanager's failed notifications not read: Prometheus did not answer ({exc})")
        return []
    if not failed:
        return []
    try:
        logged = [line for line in d.ctx.stack.logs("alertmanager", since=since).splitlines()
                  if "level=error" in line or ("level=warn" in line and "otify" in line)][-3:]
    except Exception as exc:  # noqa: BLE001 (the count stands without its log)
        logged = [f"(its log could not be read: {exc})"]
    return [f"Alertmanager failed {s.value:.0f} {s.labels.get('integration', '?')} notification(s) "
            f"({_FAILED}); it logged: " + (" | ".join(logged) or "nothing") for s in failed]


def unsent(d: "DrillRun", status: str, notes: list[Notification]) -> list[str]:
    """The expected receivers' promised integrations (the runbook's Receivers table) with no `status`
    notice among `notes`, as "receiver by integration": each integration is waited for, not one per
    receiver (a mail that arrived says nothing of the page)."""
    done = {(n.receiver, n.integration) for n in notes if n.status == status}
    return [f"{r} by {w.integration}" for r in sorted(d.expect.receivers)
            for w in d.ctx.promises.deliveries.get(r, ()) if (r, w.integration) not in done]


def raise_if_failed(d: "DrillRun", waiting_for: list[str]) -> None:
    """While an integration's notice is awaited: if Alertmanager already counts a failed notification,
    nothing more will come; fail now, naming the integration and the error it logged."""
    failed = failed_notifications(d)
    if failed:
        raise NotificationMissing(
            f"{d.expect.alertname}: a notification failed, {', '.join(waiting_for)} never came: " + "; ".join(failed),
            expected="every promised integration's notice delivered (alertmanager_notifications_failed_total "
                     "unchanged)",
            seen=d.obs.situation(),
            hint="the receiver refused what Alertmanager sent (a routing key of another service, a channel that "
                 "does not exist) or a template failed: see the error above, then the receiver in the config")


def check_shown(d: "DrillRun", since: float) -> None:
    """What the people on call read, judged as soon as every notice arrived: the promised channels and
    addresses, and the alert, severity, summary and runbook link in each."""
    notes = d.obs.notifications("firing", since)
    found = problems(notes, d.expect.severity, d.expect.receivers, d.ctx.promises.deliveries, resolved=False)
    if found:
        raise NotificationMissing(
            f"{d.expect.alertname}'s notices do not show people what the runbook promises",
            expected="each page, message and mail where the runbook's Receivers table says, showing the alert, "
                     "its severity, its summary and its runbook link",
            seen="\n".join(found),
            hint="check the receivers' channels and addresses and the templates in the Alertmanager config")


def record(d: "DrillRun", notes: list[Notification]) -> None:
    """Each delivery of the alert onto the timeline (as people saw it) and what is wrong with them."""
    for n in sorted(notes, key=lambda n: n.received_at):
        row = {"receiver": n.receiver, "integration": n.integration, "status": n.status,
               "at": round(n.received_at, 3), "shown": shown(n)}
        if n.dedup_key:
            row["dedup_key"] = n.dedup_key
        if row not in d.timeline.deliveries:
            d.timeline.deliveries.append(row)
    resolved = d.timeline.first("resolved") is not None and any(n.status == "resolved" for n in notes)
    d.timeline.delivery_problems = problems(notes, d.expect.severity, d.expect.receivers,
                                            d.ctx.promises.deliveries, resolved=resolved) + failed_notifications(d)
