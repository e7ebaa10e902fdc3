from __future__ import annotations

import asyncio
import json

import psycopg
import stripe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..core.config import get_settings
from ..core.db import DatabaseUnavailable, db, fetchone
from ..core.logging import log
from ..core.metrics import webhook_events_total
from ..core.redis import REDIS_ERRORS, rds
from ..core.util import client_ip

router = APIRouter()

IDEMPOTENCY_TTL = 86400


def _invalid(reason: str, detail: str, ip: str = "") -> JSONResponse:
    webhook_events_total.labels("invalid_signature").inc()
    log.warning("webhook invalid_signature", reason=reason, ip=ip)
    return JSONResponse({"detail": detail}, status_code=400)


async def _release_key(key: str) -> None:
    try:
        await asyncio.wait_for(rds.client.delete(key), 1.0)
    except REDIS_ERRORS as exc:
        log.error("webhook idempotency key release failed", key=key, error=type(exc).__name__)


@router.post("/billing/webhook")
async def stripe_webhook(request: Request):
    payload = await request.body()
    ip = client_ip(request.scope)  # logged so an operator can block a replaying sender
    sig = request.headers.get("stripe-signature")
    try:
        stripe.Webhook.construct_event(payload, sig, get_settings().stripe_webhook_secret)
    except stripe.SignatureVerificationError as exc:
        return _invalid("missing_header" if not sig else "bad_signature", f"invalid signature: {str(exc)[:120]}", ip=ip)
    except (ValueError, UnicodeDecodeError):
        return _invalid("invalid_payload", "invalid payload: not JSON", ip=ip)
    data = json.loads(payload)
    event_id = data.get("id") if isinstance(data, dict) else None
    etype = data.get("type") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not event_id or not isinstance(etype, str):
        return _invalid("invalid_payload", "invalid payload: event id and type required", ip=ip)

    key = f"idempotent:{event_id}"
    key_held = False
    try:
        first = await asyncio.wait_for(rds.client.set(key, "1", nx=True, ex=IDEMPOTENCY_TTL), 1.0)
        if not first:
            webhook_events_total.labels("replay_attack").inc()
            log.warning("webhook replay_attack", event_id=event_id, type=etype, guard="redis", ip=ip)
            return JSONResponse({"status": "duplicate", "event_id": event_id})
        key_held = True
    except REDIS_ERRORS as exc:
        log.warning("webhook idempotency cache unavailable using database guard", event_id=event_id,
                    error=type(exc).__name__)

    try:
        async with db.connection() as conn:
            async with conn.transaction():
                row = await fetchone(
                    conn,
                    "INSERT INTO webhook_events (event_id, type) VALUES (%s, %s)"
                    " ON CONFLICT (event_id) DO NOTHING RETURNING id",
                    (event_id, etype),
                )
                if row is not None and etype == "checkout.session.completed":
                    obj = ((data.get("data") or {}).get("object") or {}) if isinstance(data.get("data"), dict) else {}
                    customer = obj.get("customer") if isinstance(obj, dict) else None
                    amount = obj.get("amount_total") if isinstance(obj, dict) else None
                    if not isinstance(amount, int) or isinstance(amount, bool):
                        amount = None
                    await fetchone(
                        conn,
                        "INSERT INTO payments (event_id, customer, amount) VALUES (%s, %s, %s)"
                        " ON CONFLICT (event_id) DO NOTHING RETURNING id",
                        (event_id, str(customer) if customer is not None else None, amount),
                    )
    except (DatabaseUnavailable, psycopg.Error) as exc:
        webhook_events_total.labels("error").inc()
        if key_held:
            await _release_key(key)
        log.error("webhook error database write failed", event_id=event_id, type=etype,
                  error=f"{type(exc).__name__}: {exc}"[:300])
        return JSONResponse({"detail": "webhook not processed, retry"}, status_code=503)

    if row is None:
        webhook_events_total.labels("replay_attack").inc()
        log.warning("webhook replay_attack", event_id=event_id, type=etype, guard="database", ip=ip)
        return JSONResponse({"status": "duplicate", "event_id": event_id})
    webhook_events_total.labels("processed").inc()
    log.info("webhook processed", event_id=event_id, type=etype)
    return JSONResponse({"status": "processed", "event_id": event_id, "type": etype})
