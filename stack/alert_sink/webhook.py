"""Alertmanager's webhook (payload version "4"): the alerts come as data, no parsing of text."""

from __future__ import annotations

from typing import Any

from .delivery import STATUSES, Delivery


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


def delivery(receiver: str, payload: dict) -> Delivery:
    """A validated payload as a delivery; each alert keeps its own status (a firing group may carry
    resolved alerts)."""
    alerts = [{"status": a.get("status") or payload["status"],
               "labels": _str_dict(a.get("labels"), "labels"),
               "annotations": _str_dict(a.get("annotations"), "annotations"),
               "startsAt": a.get("startsAt"), "endsAt": a.get("endsAt"),
               "generatorURL": a.get("generatorURL"), "fingerprint": a.get("fingerprint")}
              for a in validate(payload)]
    return Delivery(
        receiver=receiver, integration="webhook", alerts=alerts, status=payload["status"], seen={},
        context={"payload_receiver": payload.get("receiver"), "groupKey": payload.get("groupKey"),
                 "groupLabels": payload.get("groupLabels") or {}, "externalURL": payload.get("externalURL"),
                 "truncatedAlerts": payload.get("truncatedAlerts", 0)})
