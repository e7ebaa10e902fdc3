"""Device registry and the EA (MT5 expert advisor) poll/ack endpoints, HMAC-signed."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Literal, Optional

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse

from ..core.config import get_settings
from ..core.db import DatabaseUnavailable, db, fetchall, fetchone
from ..core.logging import log
from ..core.metrics import ea_errors_total
from ..core.redis import REDIS_ERRORS, rds
from ..core.security import CurrentUser, current_user
from ..core.util import (BoundedJSONRoute, JSONTooDeep, SafeStr, client_ip, json_body, json_rows_sql, jsonable,
                         parse_json)

router = APIRouter(route_class=BoundedJSONRoute)

BIGINT_MAX = 2 ** 63 - 1
NONCE_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")  # hex HMAC-SHA256


# ---------------------------------------------------------------- device secret cache
class DeviceCache:
    """device_id -> (fetched_at, row or None). Short TTL so revocation/rotation applies within ~1-2 s."""

    def __init__(self) -> None:
        self._d: dict[str, tuple[float, Optional[dict]]] = {}

    def get(self, device_id: str):
        hit = self._d.get(device_id)
        if hit and time.monotonic() - hit[0] < get_settings().device_cache_seconds:
            return True, hit[1]
        return False, None

    def put(self, device_id: str, row: Optional[dict]) -> None:
        if len(self._d) > 10000:
            self._d.clear()
        self._d[device_id] = (time.monotonic(), row)

    def invalidate(self, device_id: str) -> None:
        self._d.pop(device_id, None)


device_cache = DeviceCache()


# ---------------------------------------------------------------- registry
@router.post("/devices", status_code=201)
async def register_device(user: CurrentUser = Depends(current_user)):
    device_id = "dev_" + secrets.token_hex(8)
    secret = secrets.token_hex(32)
    async with db.connection() as conn:
        row = await fetchone(
            conn,
            "INSERT INTO devices (device_id, user_id, secret) VALUES (%s, %s, %s)"
            " RETURNING device_id, user_id, status, created_at",
            (device_id, user.user_id, secret),
        )
    device_cache.invalidate(device_id)
    log.info("device registered", device_id=device_id, user_id=user.user_id)
    return JSONResponse({**jsonable(row), "secret": secret}, status_code=201)


@router.get("/devices")
async def list_devices(status: Literal["active", "revoked", "all"] = "active",
                       limit: int = Query(default=200, ge=1, le=1000), user: CurrentUser = Depends(current_user)):
    """The caller's own devices only: there is no admin role, and device ids name the EAs' HMAC identities."""
    conds, params = ["user_id = %s"], [user.user_id]
    if status != "all":
        conds.append("status = %s")
        params.append(status)
    where = " AND ".join(conds)
    async with db.connection() as conn:
        rows = await fetchall(
            conn,
            "SELECT device_id, user_id, status, created_at, revoked_at FROM devices"
            f" WHERE {where} ORDER BY created_at DESC LIMIT %s",
            (*params, limit),
        )
    return JSONResponse({"status": status, "count": len(rows), "devices": [jsonable(r) for r in rows]})


@router.post("/devices/{device_id}/revoke")
async def revoke_device(device_id: SafeStr = Path(max_length=64), user: CurrentUser = Depends(current_user)):
    async with db.connection() as conn:
        row = await fetchone(
            conn,
            "UPDATE devices SET status = 'revoked', revoked_at = COALESCE(revoked_at, now())"
            " WHERE device_id = %s AND user_id = %s RETURNING device_id, user_id, status, created_at, revoked_at",
            (device_id, user.user_id),
        )
    device_cache.invalidate(device_id)
    if row is None:
        raise HTTPException(status_code=404, detail="unknown device")
    log.info("device revoked", device_id=device_id, user_id=user.user_id)
    return JSONResponse(jsonable(row))


# ---------------------------------------------------------------- EA
class EAError(Exception):
    def __init__(self, status: int, error_type: str, detail: str, **fields) -> None:
        self.status, self.error_type, self.detail, self.fields = status, error_type, detail, fields


def _ea_fail(endpoint: str, err: EAError, request: Request) -> JSONResponse:
    ea_errors_total.labels(endpoint, err.error_type).inc()
    words = "ea_errors HMAC signature invalid" if err.error_type == "invalid_signature" else "ea_errors"
    logger = log.error if err.error_type == "timeout" else log.warning
    logger(words, endpoint=endpoint, error_type=err.error_type, ip=client_ip(request.scope), **err.fields)
    return JSONResponse({"detail": err.detail, "error_type": err.error_type}, status_code=err.status)


async def _load_device(device_id: str) -> Optional[dict]:
    hit, row = device_cache.get(device_id)
    if hit:
        return row
    try:
        async with db.connection(timeout=min(get_settings().db_pool_timeout, 5.0)) as conn:
            row = await fetchone(
                conn, "SELECT device_id, user_id, secret, status, created_at FROM devices WHERE device_id = %s",
                (device_id,),
            )
    except (DatabaseUnavailable, psycopg.OperationalError) as exc:
        raise EAError(503, "timeout", "device registry unavailable", device_id=device_id,
                      reason=f"{type(exc).__name__}: {exc}"[:200])
    device_cache.put(device_id, row)
    return row


async def _authenticate(request: Request, body: bytes) -> dict:
    h = request.headers
    device_id = h.get("x-device-id", "")
    ts_raw = h.get("x-timestamp", "")
    nonce = h.get("x-nonce", "")
    signature = h.get("x-signature", "").strip()
    if not DEVICE_ID_RE.fullmatch(device_id) or not NONCE_RE.fullmatch(nonce) or not SIGNATURE_RE.fullmatch(signature):
        raise EAError(401, "auth_failed", "missing or malformed X-Device-Id / X-Nonce / X-Signature",
                      device_id=device_id or None, reason="malformed_headers")
    if not TIMESTAMP_RE.fullmatch(ts_raw):
        raise EAError(401, "auth_failed", "missing or malformed X-Timestamp (unix seconds)", device_id=device_id,
                      reason="bad_timestamp")
    ts = int(ts_raw)
    max_skew = get_settings().ea_max_skew_seconds
    now = time.time()
    skew = abs(now - ts)
    if skew > max_skew:
        raise EAError(401, "auth_failed", "stale or future timestamp", device_id=device_id, reason="stale_timestamp",
                      skew_s=int(skew))
    device = await _load_device(device_id)
    if device is None:
        raise EAError(401, "auth_failed", "unknown device", device_id=device_id, reason="unknown_device")
    if device["status"] != "active":
        raise EAError(401, "auth_failed", "device revoked", device_id=device_id, reason="revoked_device")
    message = f"{request.method}\n{request.url.path}\n{ts_raw}\n{nonce}\n".encode() + body
    expected = hmac.new(device["secret"].encode(), message, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise EAError(401, "invalid_signature", "invalid signature", device_id=device_id)
    # The nonce is remembered for as long as a request stamped `ts` is accepted (until ts + max skew), so a
    # request stamped in the future cannot be replayed once its nonce expires: up to 2 x max skew.
    nonce_ttl = int(ts + max_skew - now) + 2
    try:
        # bounded by the client's 1 s socket timeouts (no wait_for task per request on this hot path)
        fresh = await rds.client.set(f"nonce:{device_id}_{nonce}", str(ts), nx=True, ex=nonce_ttl)
    except REDIS_ERRORS as exc:
        raise EAError(503, "timeout", "nonce store unavailable", device_id=device_id,
                      reason=f"redis {type(exc).__name__}")
    if not fresh:
        raise EAError(409, "nonce_replay", "nonce already used", device_id=device_id, nonce=nonce)
    return device


def _ea_header(name: str, pattern: str, description: str) -> dict:
    return {"name": name, "in": "header", "required": True, "description": description,
            "schema": {"type": "string", "pattern": pattern}}


# The EA's headers are read and checked by _authenticate (so a malformed one is an ea_errors_total
# auth_failed, not a generic 422): documented here for clients and for fuzzing from the OpenAPI description.
EA_OPENAPI = {
    "parameters": [
        _ea_header("X-Device-Id", "^[A-Za-z0-9_.:-]{1,64}$", "device id from POST /devices"),
        _ea_header("X-Timestamp", "^[0-9]{1,12}$", "unix seconds; accepted within EA_MAX_SKEW_SECONDS of now"),
        _ea_header("X-Nonce", "^[A-Za-z0-9_.:-]{1,64}$", "single use per device"),
        _ea_header("X-Signature", "^[0-9a-fA-F]{64}$",
                   'hex HMAC-SHA256(secret, "METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\n" + body)'),
    ],
    "responses": {
        str(code): {"description": what, "content": {"application/json": {"schema": {
            "type": "object", "required": ["detail", "error_type"],
            "properties": {"detail": {"type": "string"}, "error_type": {"type": "string", "enum": [
                "auth_failed", "invalid_signature", "nonce_replay", "timeout"]}}}}}}
        for code, what in ((401, "authentication failed"), (409, "nonce already used"), (503, "store unavailable"))
    },
}


@router.get("/ea/poll", openapi_extra=EA_OPENAPI)
async def ea_poll(request: Request):
    endpoint = "/ea/poll"
    try:
        device = await _authenticate(request, b"")
        try:
            async with db.connection(timeout=min(get_settings().db_pool_timeout, 5.0)) as conn:
                row = await fetchone(
                    conn,
                    json_rows_sql(
                        "SELECT s.id, s.instrument, s.side, s.price, s.quality, s.source, s.created_at"
                        " FROM signals s WHERE s.created_at >= %s AND NOT EXISTS"
                        " (SELECT 1 FROM ea_acks a WHERE a.device_id = %s AND a.signal_id = s.id)"
                        " ORDER BY s.id LIMIT 20", "id"),
                    (device["created_at"], device["device_id"]), query_type="select",
                )
        except (DatabaseUnavailable, psycopg.OperationalError) as exc:
            raise EAError(503, "timeout", "signal store unavailable", device_id=device["device_id"],
                          reason=f"{type(exc).__name__}: {exc}"[:200])
    except EAError as err:
        return _ea_fail(endpoint, err, request)
    return json_body(b'{"device_id": ', json.dumps(device["device_id"]), b', "signals": ', row["rows"], b"}")


@router.post("/ea/ack", openapi_extra={**EA_OPENAPI, "requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["signal_id"],
                                     "properties": {"signal_id": {"type": "integer", "minimum": 1}}}}}}})
async def ea_ack(request: Request):
    endpoint = "/ea/ack"
    body = await request.body()
    try:
        device = await _authenticate(request, body)
    except EAError as err:
        return _ea_fail(endpoint, err, request)
    try:
        data = parse_json(body)
    except JSONTooDeep as exc:
        return JSONResponse({"detail": f"body must be JSON {{\"signal_id\": <int>}}: {exc}"}, status_code=400)
    except ValueError:  # UnicodeDecodeError included
        return JSONResponse({"detail": "body must be JSON {\"signal_id\": <int>}"}, status_code=400)
    signal_id = data.get("signal_id") if isinstance(data, dict) else None
    if not isinstance(signal_id, int) or isinstance(signal_id, bool) or not 1 <= signal_id <= BIGINT_MAX:
        return JSONResponse({"detail": "signal_id must be a positive integer"}, status_code=422)
    try:
        async with db.connection(timeout=min(get_settings().db_pool_timeout, 5.0)) as conn:
            row = await fetchone(
                conn,
                "INSERT INTO ea_acks (device_id, signal_id) SELECT %s, %s"
                " WHERE EXISTS (SELECT 1 FROM signals WHERE id = %s)"
                " ON CONFLICT (device_id, signal_id) DO NOTHING RETURNING signal_id, acked_at",
                (device["device_id"], signal_id, signal_id),
            )
            if row is None:
                exists = await fetchone(conn, "SELECT 1 AS x FROM signals WHERE id = %s", (signal_id,))
    except (DatabaseUnavailable, psycopg.OperationalError) as exc:
        return _ea_fail(endpoint, EAError(503, "timeout", "signal store unavailable", device_id=device["device_id"],
                                          reason=f"{type(exc).__name__}: {exc}"[:200]), request)
    if row is None:
        if exists is None:
            return JSONResponse({"detail": "unknown signal"}, status_code=404)
        return JSONResponse({"signal_id": signal_id, "acked": True, "duplicate": True})
    log.info("ea ack", device_id=device["device_id"], signal_id=signal_id)
    return JSONResponse({"signal_id": signal_id, "acked": True, "duplicate": False})
