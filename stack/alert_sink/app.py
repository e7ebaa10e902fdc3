"""Alert sink: stands in for every service Alertmanager notifies in a drill (PagerDuty, Slack, the mail
server, any other integration, and a plain webhook), speaks each protocol as the real service does (and
refuses what it refuses), and keeps what arrived per receiver for the drills to assert on.

POST /hook/{receiver}                          Alertmanager webhook (version "4"), webhook.py
POST /pagerduty/{receiver}/v2/enqueue          PagerDuty Events API v2, pagerduty.py
POST /slack/{receiver}[/...]                   Slack incoming webhook, slack.py
SMTP 127.0.0.1:$ALERT_SINK_SMTP_PORT           mail, mail.py (receiver from mail-receivers.json)
POST /raw/{receiver}/{integration}[/...]       any other integration: the body kept as is
GET  /notifications   ?receiver=&alertname=&status=&severity=&integration=&since=<unix> -> one record per alert
GET  /deliveries      ?receiver=&integration=&since=<unix> -> one entry per delivery (event, post, mail, call)
GET  /receivers       counts per receiver
DELETE /notifications clear records and deliveries (drills reset between scenarios)
GET  /health
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from . import mail, pagerduty, slack, webhook
from .delivery import Delivery

MAX_NOTIFICATIONS = int(os.environ.get("ALERT_SINK_MAX_NOTIFICATIONS", "10000"))


def _utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{_utc_iso(record.created)} {record.levelname} alert_sink {record.getMessage()}"


log = logging.getLogger("alert_sink")
if not log.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(_Formatter())
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False


_UNREAD = {"status": "firing", "labels": {}, "annotations": {}}


class Store:
    """Records (one per alert) and deliveries (one per event, post, mail or call), each bounded to the
    last `maxlen`. Thread-safe: mail arrives on the SMTP server's thread."""

    def __init__(self, maxlen: int) -> None:
        self._lock = threading.Lock()
        self._records: collections.deque[dict] = collections.deque(maxlen=maxlen)
        self._deliveries: collections.deque[dict] = collections.deque(maxlen=maxlen)
        self._record_ids, self._delivery_ids = itertools.count(1), itertools.count(1)

    def add(self, d: Delivery, whole_body: bool = False) -> list[dict]:
        """The delivery entry and its records: one per alert, or with `whole_body` (alerts we cannot
        read) one standing for the whole body, with no labels."""
        now = time.time()
        stamp = {"received_at": _utc_iso(now), "received_at_unix": now}
        with self._lock:
            names = sorted({a["labels"]["alertname"] for a in d.alerts if a["labels"].get("alertname")})
            entry = {"id": next(self._delivery_ids), "receiver": d.receiver, "integration": d.integration,
                     **stamp, "status": d.group_status, "alertnames": names, "seen": d.seen, **d.extra}
            self._deliveries.append(entry)
            alerts = [_UNREAD] if whole_body else d.alerts
            records = [self._record(d, entry["id"], alert, stamp) for alert in alerts]
            self._records.extend(records)
        return records

    def _record(self, d: Delivery, delivery_id: int, alert: dict, stamp: dict) -> dict:
        labels = alert["labels"]
        return {
            "id": next(self._record_ids), "delivery_id": delivery_id, "receiver": d.receiver,
            "integration": d.integration, "payload_receiver": None,
            "status": alert["status"], "group_status": d.group_status,
            "alertname": labels.get("alertname"), "severity": labels.get("severity"), "labels": labels,
            "annotations": alert.get("annotations") or {}, "startsAt": alert.get("startsAt"),
            "endsAt": alert.get("endsAt"), "generatorURL": alert.get("generatorURL"),
            "fingerprint": alert.get("fingerprint"),
            "groupKey": None, "groupLabels": {}, "externalURL": None, "truncatedAlerts": 0,
            **d.context, **d.extra, "seen": d.seen, **stamp,
        }

    def query(self, receiver=None, alertname=None, status=None, severity=None, integration=None,
              since=None) -> list[dict]:
        with self._lock:
            items = list(self._records)
        want = {"receiver": receiver, "alertname": alertname, "status": status, "severity": severity,
                "integration": integration}
        return [r for r in items
                if all(v is None or r[k] == v for k, v in want.items())
                and (since is None or r["received_at_unix"] >= since)]

    def deliveries(self, receiver=None, integration=None, since=None) -> list[dict]:
        with self._lock:
            items = list(self._deliveries)
        return [d for d in items
                if (receiver is None or d["receiver"] == receiver)
                and (integration is None or d["integration"] == integration)
                and (since is None or d["received_at_unix"] >= since)]

    def receivers(self) -> dict:
        with self._lock:
            items, deliveries = list(self._records), list(self._deliveries)

        def blank() -> dict:
            return {"notifications": 0, "firing": 0, "resolved": 0, "webhooks": 0, "deliveries": 0,
                    "integrations": set(), "alertnames": set(), "last_received_at_unix": None}

        counts: dict[str, dict] = {}
        for r in items:
            c = counts.setdefault(r["receiver"], blank())
            c["notifications"] += 1
            c[r["status"]] = c.get(r["status"], 0) + 1
            if r["alertname"]:
                c["alertnames"].add(r["alertname"])
            c["last_received_at_unix"] = r["received_at_unix"]
        for d in deliveries:
            c = counts.setdefault(d["receiver"], blank())
            c["deliveries"] += 1
            c["webhooks"] += d["integration"] == "webhook"  # Alertmanager webhook calls, as before
            c["integrations"].add(d["integration"])
        for c in counts.values():
            c["alertnames"], c["integrations"] = sorted(c["alertnames"]), sorted(c["integrations"])
        return counts

    def clear(self) -> int:
        with self._lock:
            n = len(self._records)
            self._records.clear()
            self._deliveries.clear()
        return n


store = Store(MAX_NOTIFICATIONS)
incidents = pagerduty.Incidents(MAX_NOTIFICATIONS)


def _stored(d: Delivery) -> list[dict]:
    records = store.add(d)
    log.info("delivery receiver=%s integration=%s status=%s alerts=%d%s", d.receiver, d.integration,
             d.group_status, len(d.alerts), "".join(f" {k}={v}" for k, v in d.extra.items()))
    for r in records:
        log.info("notification receiver=%s status=%s alertname=%s severity=%s fingerprint=%s groupKey=%s "
                 "integration=%s", r["receiver"], r["status"], r["alertname"], r["severity"], r["fingerprint"],
                 r["groupKey"], r["integration"])
    return records


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI):
    """The SMTP receiver lives as long as the app, when ALERT_SINK_SMTP_PORT names its port."""
    port = os.environ.get("ALERT_SINK_SMTP_PORT")
    smtp = mail.controller(int(port), _stored) if port else None
    if smtp is not None:
        await asyncio.to_thread(smtp.start)
        log.info("smtp listening on 127.0.0.1:%s", port)
    try:
        yield
    finally:
        if smtp is not None:
            await asyncio.to_thread(smtp.stop)


app = FastAPI(title="alert-sink", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)


# --- Alertmanager webhook ---------------------------------------------------------------------------

def _bad(reason: str) -> JSONResponse:
    return JSONResponse(status_code=400, content={"error": "invalid alertmanager webhook payload", "reason": reason})


async def _receive(receiver: str, request: Request) -> JSONResponse:
    body = await request.body()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("rejected receiver=%s integration=webhook reason=invalid JSON (%s)", receiver, exc)
        return _bad(f"body is not valid JSON: {exc}")
    try:
        webhook.validate(payload)
    except webhook.InvalidPayload as exc:
        log.warning("rejected receiver=%s integration=webhook reason=%s", receiver, exc)
        return _bad(str(exc))
    if not receiver:
        receiver = str(payload.get("receiver") or "")
        if not receiver:
            return _bad('no receiver in the path and no "receiver" in the payload')
    records = _stored(webhook.delivery(receiver, payload))
    return JSONResponse({"stored": len(records), "receiver": receiver})


@app.post("/hook/{receiver}")
async def hook(receiver: str, request: Request) -> JSONResponse:
    return await _receive(receiver, request)


@app.post("/hook")
async def hook_without_receiver(request: Request) -> JSONResponse:
    return await _receive("", request)


# --- PagerDuty, Slack, the rest ------------------------------------------------------------------------

@app.post("/pagerduty/{receiver}/v2/enqueue")
async def pagerduty_enqueue(receiver: str, request: Request) -> JSONResponse:
    body = await request.body()
    try:
        event = json.loads(body)
        errors = pagerduty.check(event)
    except (ValueError, UnicodeDecodeError) as exc:
        errors = [f"body is not JSON ({exc})"]
    if errors:
        log.warning("rejected receiver=%s integration=pagerduty reasons=%s", receiver, "; ".join(errors))
        return JSONResponse(status_code=400, content={**pagerduty.INVALID, "errors": errors})
    d = pagerduty.delivery(receiver, event, incidents)
    _stored(d)
    return JSONResponse(status_code=202, content={**pagerduty.ACCEPTED, "dedup_key": d.extra["dedup_key"]})


@app.post("/slack/{receiver}")
@app.post("/slack/{receiver}/{rest:path}")
async def slack_post(receiver: str, request: Request, rest: str = "") -> PlainTextResponse:
    try:
        message = slack.check(await request.body())
    except slack.Refused as exc:
        log.warning("rejected receiver=%s integration=slack status=%d reason=%s", receiver, exc.status, exc)
        return PlainTextResponse(exc.word, status_code=exc.status)
    _stored(slack.delivery(receiver, message))
    return PlainTextResponse("ok")


@app.api_route("/raw/{receiver}/{integration}", methods=["POST", "PUT"])
@app.api_route("/raw/{receiver}/{integration}/{rest:path}", methods=["POST", "PUT"])
async def raw(receiver: str, integration: str, request: Request, rest: str = "") -> JSONResponse:
    """An integration we do not speak (opsgenie, victorops, ...): Alertmanager appends its API path to
    the URL; the body is kept as sent, one record, no alerts read from it."""
    body = await request.body()
    try:
        kept = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        kept = body.decode("utf-8", errors="replace")
    d = Delivery(receiver=receiver, integration=integration, alerts=[], status="firing",
                 seen={"body": kept, "path": "/" + rest if rest else ""})
    store.add(d, whole_body=True)
    log.info("delivery receiver=%s integration=%s path=/%s (kept as sent, alerts not read)", receiver,
             integration, rest)
    return JSONResponse({})


# --- Queries ---------------------------------------------------------------------------------------------

@app.get("/notifications")
async def notifications(receiver: Optional[str] = None, alertname: Optional[str] = None,
                        status: Optional[str] = None, severity: Optional[str] = None,
                        integration: Optional[str] = None, since: Optional[float] = None) -> JSONResponse:
    items = store.query(receiver=receiver or None, alertname=alertname or None, status=status or None,
                        severity=severity or None, integration=integration or None, since=since)
    return JSONResponse({"notifications": items, "count": len(items)})


@app.get("/deliveries")
async def deliveries(receiver: Optional[str] = None, integration: Optional[str] = None,
                     since: Optional[float] = None) -> JSONResponse:
    items = store.deliveries(receiver=receiver or None, integration=integration or None, since=since)
    return JSONResponse({"deliveries": items, "count": len(items)})


@app.get("/receivers")
async def receivers() -> JSONResponse:
    return JSONResponse({"receivers": store.receivers()})


@app.delete("/notifications")
async def clear() -> JSONResponse:
    n = store.clear()
    log.info("cleared notifications=%d", n)
    return JSONResponse({"cleared": n})


@app.get("/health")
async def health() -> dict:
    return {"status": "ok", "service": "alert-sink", "smtp_port": os.environ.get("ALERT_SINK_SMTP_PORT")}
