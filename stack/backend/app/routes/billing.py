from __future__ import annotations

import asyncio
import re
import time

import psycopg
import stripe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..core.config import get_settings
from ..core.db import DatabaseUnavailable, db, fetchone
from ..core.logging import log
from ..core.metrics import webhook_events_total
from ..core.redis import REDIS_ERRORS, rds
from ..core.util import BoundedJSONRoute, JSONTooDeep, client_ip, parse_json, storable

router = APIRouter(route_class=BoundedJSONRoute)

IDEMPOTENCY_TTL = 86400
# Stripe's ids and event types are short printable ASCII (evt_..., checkout.session.completed).
EVENT_FIELD_RE = re.compile(r"[\x21-\x7e]{1,255}")
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
BIGINT = 2 ** 63


def _invalid(reason: str, detail: str, ip: str = "") -> JSONResponse:
    webhook_events_total.labels("invalid_signature").inc()
    log.warning("webhook invalid_signature", reason=reason, ip=ip)
    return JSONResponse({"detail": detail}, status_code=400)


def _signed_at(header: str) -> int | None:
    """t=<unix> of a Stripe-Signature header, or None if it is not `key=value,...` with one `=` per element and
    a single t of digits. Such a header is refused before stripe's check: its own parser reads `t=12=3` as
    t=12, so on the headers accepted here both read the same timestamp (the one the signature covers)."""
    items = [item.split("=") for item in header.split(",")]
    if any(len(kv) != 2 for kv in items):
        return None
    stamps = [value for key, value in items if key == "t"]
    if len(stamps) != 1 or not TIMESTAMP_RE.fullmatch(stamps[0]):
        return None
    return int(stamps[0])


async def _seen(key: str) -> bool:
    """Fast path: the event was committed before (the key is set only after the commit)."""
    try:
        return bool(await asyncio.wait_for(rds.client.exists(key), 1.0))
    except REDIS_ERRORS as exc:
        log.warning("webhook idempotency cache unavailable using database guard", key=key, error=type(exc).__name__)
        return False


async def _remember(key: str) -> None:
    try:
        await asyncio.wait_for(rds.client.set(key, "1", ex=IDEMPOTENCY_TTL), 1.0)
    except REDIS_ERRORS as exc:  # the database still guards the next delivery
        log.warning("webhook idempotency key not cached", key=key, error=type(exc).__name__)


WEBHOOK_OPENAPI = {
    "parameters": [{"name": "Stripe-Signature", "in": "header", "required": True,
                    "description": "t=<unix>,v1=<hex HMAC-SHA256(secret, t + '.' + body)>",
                    "schema": {"type": "string"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["id", "type"],
        "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "data": {"type": "object"}}}}}},
    "responses": {
        "400": {"description": "invalid signature or payload (webhook_events_total invalid_signature)",
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}}}},
        "503": {"description": "not stored; the provider retries"},
    },
}


@router.post("/billing/webhook", openapi_extra=WEBHOOK_OPENAPI)
async def stripe_webhook(request: Request):
    """Exactly once: the webhook_events row and the payment commit together (the database is the guard);
    the Redis key only caches "already committed" and is written after the commit, so a crash at any point
    leaves either the committed event (a retry answers duplicate) or nothing (a retry processes it)."""
    payload = await request.body()
    ip = client_ip(request.scope)  # logged so an operator can block a replaying sender
    sig = request.headers.get("stripe-signature")
    settings = get_settings()
    tolerance = settings.webhook_tolerance_seconds
    if sig is not None and not sig.isascii():
        return _invalid("bad_signature", "invalid signature: Stripe-Signature must be ASCII", ip=ip)
    signed_at = _signed_at(sig) if sig else None
    if sig and signed_at is None:
        return _invalid("malformed_header", "invalid signature: malformed Stripe-Signature (expected "
                                            "t=<unix seconds>,v1=<hex>, one '=' per element, one t)", ip=ip)
    try:
        stripe.WebhookSignature.verify_header(payload, sig, settings.stripe_webhook_secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        return _invalid("missing_header" if not sig else "bad_signature", f"invalid signature: {str(exc)[:120]}", ip=ip)
    except UnicodeDecodeError:
        return _invalid("invalid_payload", "invalid payload: not UTF-8", ip=ip)
    if signed_at > time.time() + tolerance:
        return _invalid("future_timestamp", f"invalid signature: timestamp more than {tolerance}s in the future", ip=ip)
    try:
        data = parse_json(payload)
    except JSONTooDeep as exc:
        return _invalid("invalid_payload", f"invalid payload: {exc}", ip=ip)
    except ValueError:
        return _invalid("invalid_payload", "invalid payload: not JSON", ip=ip)
    if not isinstance(data, dict):
        return _invalid("invalid_payload", "invalid payload: an event is a JSON object", ip=ip)
    event_id, etype = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not isinstance(etype, str) \
            or not EVENT_FIELD_RE.fullmatch(event_id) or not EVENT_FIELD_RE.fullmatch(etype):
        return _invalid("invalid_payload", "invalid payload: event id and type required (printable ASCII, "
                                           "at most 255 characters)", ip=ip)
    customer = amount = None
    if etype == "checkout.session.completed":
        obj = data.get("data")
        obj = obj.get("object") if isinstance(obj, dict) else None
        if isinstance(obj, dict):
            customer, amount = obj.get("customer"), obj.get("amount_total")
        if isinstance(customer, dict):  # an expanded customer object
            customer = customer.get("id")
        customer = str(customer)[:255] if customer is not None else None
        if customer is not None and not storable(customer):
            return _invalid("invalid_payload", "invalid payload: customer holds NUL or unpaired surrogates", ip=ip)
        if not isinstance(amount, int) or isinstance(amount, bool) or not -BIGINT <= amount < BIGINT:
            amount = None

    key = f"idempotent:{event_id}"
    if await _seen(key):
        webhook_events_total.labels("replay_attack").inc()
        log.warning("webhook replay_attack", event_id=event_id, type=etype, guard="redis", ip=ip)
        return JSONResponse({"status": "duplicate", "event_id": event_id})

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
                    await fetchone(
                        conn,
                        "INSERT INTO payments (event_id, customer, amount) VALUES (%s, %s, %s)"
                        " ON CONFLICT (event_id) DO NOTHING RETURNING id",
                        (event_id, customer, amount),
                    )
    except (DatabaseUnavailable, psycopg.Error) as exc:
        webhook_events_total.labels("error").inc()
        log.error("webhook error database write failed", event_id=event_id, type=etype,
                  error=f"{type(exc).__name__}: {exc}"[:300])
        return JSONResponse({"detail": "webhook not processed, retry"}, status_code=503)

    await _remember(key)
    if row is None:
        webhook_events_total.labels("replay_attack").inc()
        log.warning("webhook replay_attack", event_id=event_id, type=etype, guard="database", ip=ip)
        return JSONResponse({"status": "duplicate", "event_id": event_id})
    webhook_events_total.labels("processed").inc()
    log.info("webhook processed", event_id=event_id, type=etype)
    return JSONResponse({"status": "processed", "event_id": event_id, "type": etype})
