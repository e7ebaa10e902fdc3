"""Alert sink: records every Alertmanager webhook notification, per receiver, for the drills to assert on.

Alertmanager has one webhook_config per receiver pointing at http://127.0.0.1:9095/hook/<receiver name>.
POST /hook/{receiver}      store one record per alert of an Alertmanager (version "4") webhook payload
GET  /notifications        ?receiver=&alertname=&status=&severity=&since=<unix float> -> {"notifications": [...]}
GET  /receivers            counts per receiver
DELETE /notifications      clear everything (drills reset between scenarios)
GET  /health
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MAX_NOTIFICATIONS = int(os.environ.get("ALERT_SINK_MAX_NOTIFICATIONS", "10000"))
STATUSES = ("firing", "resolved")


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


class InvalidPayload(ValueError):
    pass


def _str_dict(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} must be an object")
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def validate(payload: Any) -> list[dict]:
    """Check the Alertmanager webhook shape; return the alerts list. Raises InvalidPayload with a reason."""
    if not isinstance(payload, dict):
        raise InvalidPayload("payload must be a JSON object")
    version = payload.get("version")
    if version != "4":
        raise InvalidPayload(f'unsupported or missing "version" {version!r} (expected "4")')
    if payload.get("status") not in STATUSES:
        raise InvalidPayload(f'"status" must be "firing" or "resolved", got {payload.get("status")!r}')
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidPayload('"alerts" must be a list')
    for i, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise InvalidPayload(f"alerts[{i}] must be an object")
        if not isinstance(alert.get("labels"), dict):
            raise InvalidPayload(f"alerts[{i}].labels must be an object")
        if alert.get("status", payload["status"]) not in STATUSES:
            raise InvalidPayload(f"alerts[{i}].status must be firing or resolved, got {alert.get('status')!r}")
        if alert.get("annotations") is not None and not isinstance(alert.get("annotations"), dict):
            raise InvalidPayload(f"alerts[{i}].annotations must be an object")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        if payload.get(key) is not None and not isinstance(payload.get(key), dict):
            raise InvalidPayload(f"{key} must be an object")
    return alerts


class Store:
    def __init__(self, maxlen: int) -> None:
        self._lock = threading.Lock()
        self._records: collections.deque[dict] = collections.deque(maxlen=maxlen)
        self._seq = itertools.count(1)
        self._webhooks: collections.Counter[str] = collections.Counter()

    def add(self, receiver: str, payload: dict, alerts: list[dict]) -> list[dict]:
        now = time.time()
        group_status = payload["status"]
        records = []
        with self._lock:
            self._webhooks[receiver] += 1
            for alert in alerts:
                labels = _str_dict(alert.get("labels"), "labels")
                rec = {
                    "id": next(self._seq),
                    "receiver": receiver,
                    "payload_receiver": payload.get("receiver"),
                    "status": alert.get("status") or group_status,
                    "group_status": group_status,
                    "alertname": labels.get("alertname"),
                    "severity": labels.get("severity"),
                    "labels": labels,
                    "annotations": _str_dict(alert.get("annotations"), "annotations"),
                    "startsAt": alert.get("startsAt"),
                    "endsAt": alert.get("endsAt"),
                    "generatorURL": alert.get("generatorURL"),
                    "fingerprint": alert.get("fingerprint"),
                    "groupKey": payload.get("groupKey"),
                    "groupLabels": payload.get("groupLabels") or {},
                    "externalURL": payload.get("externalURL"),
                    "truncatedAlerts": payload.get("truncatedAlerts", 0),
                    "received_at": _utc_iso(now),
                    "received_at_unix": now,
                }
                self._records.append(rec)
                records.append(rec)
        return records

    def query(self, receiver=None, alertname=None, status=None, severity=None, since=None) -> list[dict]:
        with self._lock:
            items = list(self._records)
        out = []
        for r in items:
            if receiver is not None and r["receiver"] != receiver:
                continue
            if alertname is not None and r["alertname"] != alertname:
                continue
            if status is not None and r["status"] != status:
                continue
            if severity is not None and r["severity"] != severity:
                continue
            if since is not None and r["received_at_unix"] < since:
                continue
            out.append(r)
        return out

    def receivers(self) -> dict:
        with self._lock:
            items = list(self._records)
            webhooks = dict(self._webhooks)
        counts: dict[str, dict] = {}
        for r in items:
            c = counts.setdefault(r["receiver"], {"notifications": 0, "firing": 0, "resolved": 0, "webhooks": 0,
                                                  "alertnames": set(), "last_received_at_unix": None})
            c["notifications"] += 1
            c[r["status"]] = c.get(r["status"], 0) + 1
            if r["alertname"]:
                c["alertnames"].add(r["alertname"])
            c["last_received_at_unix"] = r["received_at_unix"]
        for name, n in webhooks.items():
            counts.setdefault(name, {"notifications": 0, "firing": 0, "resolved": 0, "webhooks": 0,
                                     "alertnames": set(), "last_received_at_unix": None})["webhooks"] = n
        for c in counts.values():
            c["alertnames"] = sorted(c["alertnames"])
        return counts

    def clear(self) -> int:
        with self._lock:
            n = len(self._records)
            self._records.clear()
            self._webhooks.clear()
        return n


store = Store(MAX_NOTIFICATIONS)
app = FastAPI(title="alert-sink", docs_url=None, redoc_url=None, openapi_url=None)


def _bad(reason: str) -> JSONResponse:
    return JSONResponse(status_code=400, content={"error": "invalid alertmanager webhook payload", "reason": reason})


async def _receive(receiver: str, request: Request) -> JSONResponse:
    body = await request.body()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("rejected receiver=%s reason=invalid JSON (%s)", receiver, exc)
        return _bad(f"body is not valid JSON: {exc}")
    try:
        alerts = validate(payload)
    except InvalidPayload as exc:
        log.warning("rejected receiver=%s reason=%s", receiver, exc)
        return _bad(str(exc))
    if not receiver:
        receiver = str(payload.get("receiver") or "")
        if not receiver:
            return _bad('no receiver in the path and no "receiver" in the payload')
    records = store.add(receiver, payload, alerts)
    for r in records:
        log.info("notification receiver=%s status=%s alertname=%s severity=%s fingerprint=%s groupKey=%s",
                 r["receiver"], r["status"], r["alertname"], r["severity"], r["fingerprint"], r["groupKey"])
    return JSONResponse({"stored": len(records), "receiver": receiver})


@app.post("/hook/{receiver}")
async def hook(receiver: str, request: Request) -> JSONResponse:
    return await _receive(receiver, request)


@app.post("/hook")
async def hook_without_receiver(request: Request) -> JSONResponse:
    return await _receive("", request)


@app.get("/notifications")
async def notifications(receiver: Optional[str] = None, alertname: Optional[str] = None,
                        status: Optional[str] = None, severity: Optional[str] = None,
                        since: Optional[float] = None) -> JSONResponse:
    items = store.query(receiver=receiver or None, alertname=alertname or None, status=status or None,
                        severity=severity or None, since=since)
    return JSONResponse({"notifications": items, "count": len(items)})


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
    return {"status": "ok", "service": "alert-sink"}
