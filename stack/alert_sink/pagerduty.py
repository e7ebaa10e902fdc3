"""PagerDuty Events API v2 (POST /v2/enqueue), as PagerDuty accepts and refuses events, and the alerts
Alertmanager put in an event's custom_details (firing / resolved: "oncall.alert_list" text).

https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ : 202 for an accepted event, 400
"invalid event" with the reasons otherwise (Alertmanager does not retry a 400: the page is lost).
"""

from __future__ import annotations

import collections
import os
import threading
import uuid
from typing import Any, Optional

from . import alert_list
from .delivery import Delivery

ROUTING_KEY_FILE = "/etc/alertmanager/src/secrets/pagerduty-routing-key"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY, MAX_DEDUP_KEY, ROUTING_KEY_LEN = 1024, 255, 32

ACCEPTED = {"status": "success", "message": "Event processed"}
INVALID = {"status": "invalid event", "message": "Event object is invalid"}


def routing_key_file() -> str:
    return os.environ.get("PAGERDUTY_ROUTING_KEY_FILE", ROUTING_KEY_FILE)


def expected_routing_key() -> tuple[Optional[str], Optional[str]]:
    """(the integration key events must carry, None) or (None, why there is none). Read at each event so a
    rotated key file is seen at once."""
    path = routing_key_file()
    try:
        with open(path, encoding="utf-8") as f:
            key = f.read().strip()
    except OSError as exc:
        return None, f"no integration key to check routing_key against: cannot read {path} ({exc.strerror})"
    if not key:
        return None, f"no integration key to check routing_key against: {path} is empty"
    return key, None


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def check(event: Any) -> list[str]:
    """Why PagerDuty would refuse `event` ([] if it would accept it)."""
    if not isinstance(event, dict):
        return [f"event must be a JSON object, got {type(event).__name__}"]
    errors = []
    expected, no_key = expected_routing_key()
    if no_key:  # every event is refused: nothing to tell a right key from a wrong one
        errors.append(no_key)
    key = event.get("routing_key")
    if _blank(key):
        errors.append(f"'routing_key' is missing or blank (got {key!r})")
    elif len(key) != ROUTING_KEY_LEN:
        errors.append(f"'routing_key' must be {ROUTING_KEY_LEN} characters, got {len(key)}")
    elif expected is not None and key != expected:
        errors.append(f"'routing_key' {key[:4]}... is not this service's integration key (the one in "
                      f"{routing_key_file()})")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append(f"'event_action' must be one of {', '.join(ACTIONS)}, got {action!r}")
    dedup = event.get("dedup_key")
    if dedup is not None and not isinstance(dedup, str):
        errors.append(f"'dedup_key' must be a string, got {type(dedup).__name__}")
    elif dedup is not None and len(dedup) > MAX_DEDUP_KEY:
        errors.append(f"'dedup_key' must be at most {MAX_DEDUP_KEY} characters, got {len(dedup)}")
    elif action in ("acknowledge", "resolve") and _blank(dedup):
        errors.append(f"'dedup_key' is required to {action} (it names the incident), got {dedup!r}")
    if action == "trigger":
        errors += _check_payload(event.get("payload"))
    return errors


def _check_payload(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return [f"'payload' must be an object for a trigger, got {type(payload).__name__}"]
    errors = []
    summary = payload.get("summary")
    if _blank(summary):
        errors.append(f"'payload.summary' is missing or blank (got {summary!r})")
    elif len(summary) > MAX_SUMMARY:
        errors.append(f"'payload.summary' must be at most {MAX_SUMMARY} characters, got {len(summary)}")
    if _blank(payload.get("source")):
        errors.append(f"'payload.source' is missing or blank (got {payload.get('source')!r})")
    if payload.get("severity") not in SEVERITIES:
        errors.append(f"'payload.severity' must be one of {', '.join(SEVERITIES)}, "
                      f"got {payload.get('severity')!r}")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        errors.append(f"'payload.custom_details' must be an object, got {type(details).__name__}")
    return errors


class Incidents:
    """The alerts of the last trigger per (receiver, dedup_key), as PagerDuty keeps the incident a resolve
    closes: a resolve whose details list no alert still resolves those. Bounded; not cleared with the
    records (DELETE /notifications), as PagerDuty's incidents outlive our bookkeeping."""

    def __init__(self, maxlen: int) -> None:
        self._lock = threading.Lock()
        self._open: collections.OrderedDict[tuple[str, str], list[dict]] = collections.OrderedDict()
        self._maxlen = maxlen

    def triggered(self, receiver: str, dedup_key: str, alerts: list[dict]) -> None:
        with self._lock:
            self._open.pop((receiver, dedup_key), None)
            self._open[(receiver, dedup_key)] = alerts
            while len(self._open) > self._maxlen:
                self._open.popitem(last=False)

    def last_trigger(self, receiver: str, dedup_key: str) -> list[dict]:
        with self._lock:
            return list(self._open.get((receiver, dedup_key), ()))


def delivery(receiver: str, event: dict, incidents: Incidents) -> Delivery:
    """A checked event (check(event) == []) as a delivery; a trigger without dedup_key gets one, as
    PagerDuty makes one up and answers with it."""
    action = event["event_action"]
    dedup = event.get("dedup_key") or uuid.uuid4().hex
    payload = event.get("payload") if isinstance(event.get("payload"), dict) else {}
    details = payload.get("custom_details") if isinstance(payload.get("custom_details"), dict) else {}
    alerts = [a for status in ("firing", "resolved") if isinstance(details.get(status), str)
              for a in alert_list.parse(details[status], status=status)]
    if action == "trigger":
        incidents.triggered(receiver, dedup, [a for a in alerts if a["status"] == "firing"])
    elif action == "resolve" and not alerts:
        alerts = [{**a, "status": "resolved", "endsAt": None} for a in incidents.last_trigger(receiver, dedup)]
    return Delivery(
        receiver=receiver, integration="pagerduty", alerts=alerts,
        status="resolved" if action == "resolve" else "firing",
        extra={"event_action": action, "dedup_key": dedup},
        context={"externalURL": event.get("client_url")},
        seen={"summary": payload.get("summary"), "severity": payload.get("severity"),
              "source": payload.get("source"), "links": event.get("links") or [], "custom_details": details,
              "client": event.get("client"), "client_url": event.get("client_url")})
