from __future__ import annotations

import asyncio
import secrets

import psycopg
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from ..core.config import get_settings
from ..core.db import DatabaseUnavailable, db, fetchone
from ..core.logging import log
from ..core.metrics import auth_login_total
from ..core.redis import REDIS_ERRORS, rds
from ..core.security import DUMMY_PASSWORD_HASH, CurrentUser, create_token, current_user, verify_password
from ..core.util import BoundedJSONRoute, SafeStr

router = APIRouter(route_class=BoundedJSONRoute)


class LoginIn(BaseModel):
    email: SafeStr = Field(min_length=3, max_length=254)
    password: SafeStr = Field(min_length=1, max_length=256)


@router.post("/auth/login")
async def login(body: LoginIn):
    email = body.email.strip().lower()
    try:
        async with db.connection() as conn:
            row = await fetchone(conn, "SELECT id, password_hash FROM users WHERE lower(email) = %s", (email,))
    except (DatabaseUnavailable, psycopg.Error) as exc:
        auth_login_total.labels("error").inc()
        log.error("auth login error database", email=email, error=type(exc).__name__)
        raise
    stored = row["password_hash"] if row is not None else DUMMY_PASSWORD_HASH
    ok = await asyncio.to_thread(verify_password, body.password, stored) and row is not None
    if not ok:
        auth_login_total.labels("failure").inc()
        log.warning("auth login failure", email=email)
        raise HTTPException(status_code=401, detail="invalid credentials")
    sid = secrets.token_urlsafe(18)
    ttl = get_settings().session_ttl_seconds
    try:
        await asyncio.wait_for(rds.client.set(f"session:{sid}", row["id"], ex=ttl), 1.0)
    except REDIS_ERRORS as exc:
        auth_login_total.labels("error").inc()
        log.error("auth login error session store unavailable", email=email, error=type(exc).__name__)
        raise HTTPException(status_code=503, detail="session store unavailable")
    auth_login_total.labels("success").inc()
    log.info("auth login success", user_id=row["id"], sid=sid[:6] + "...")
    return {"access_token": create_token(row["id"], sid), "token_type": "bearer", "expires_in": ttl}


@router.post("/auth/logout")
async def logout(user: CurrentUser = Depends(current_user)):
    try:
        await asyncio.wait_for(rds.client.delete(f"session:{user.sid}"), 1.0)
    except REDIS_ERRORS:
        raise HTTPException(status_code=503, detail="session store unavailable")
    log.info("auth logout", user_id=user.user_id)
    return {"status": "logged out"}
