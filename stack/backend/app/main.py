"""FastAPI application for the reference trading-signals platform (see backend/README.md)."""
from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from .core.config import get_settings
from .core.db import apply_migrations_sync, db, fetchone
from .core.logging import log, setup_logging
from .core.metrics import auth_login_total, pool_collector
from .core.middleware import PlatformMiddleware
from .core.redis import rds
from .core.security import hash_password
from .routes import approvals, auth, billing, devices, health, market, signals

settings = get_settings()
setup_logging(settings.log_level)

API = "/api/v1"


async def _migrate_and_seed() -> None:
    delay = 1.0
    while True:
        try:
            await asyncio.to_thread(apply_migrations_sync)
            break
        except Exception as exc:  # noqa: BLE001 - database not reachable yet: keep trying
            log.error("database migrations failed retrying", error=f"{type(exc).__name__}: {exc}"[:300],
                      retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
    db.migrated = True
    s = get_settings()
    while True:
        try:
            async with db.connection() as conn:
                exists = await fetchone(conn, "SELECT id FROM users WHERE email = %s", (s.demo_user_email,))
                if exists is None:
                    pw_hash = await asyncio.to_thread(hash_password, s.demo_user_password)
                    await fetchone(
                        conn,
                        "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, %s)"
                        " ON CONFLICT (email) DO NOTHING RETURNING id",
                        ("user-demo-trader", s.demo_user_email, pw_hash),
                    )
                    log.info("demo user seeded", email=s.demo_user_email, user_id="user-demo-trader")
            return
        except Exception as exc:  # noqa: BLE001
            log.error("database demo user seed failed retrying", error=f"{type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(2.0)


@asynccontextmanager
async def lifespan(app: FastAPI):
    s = get_settings()
    log.info("backend starting", release=s.release)
    s.log_effective()
    await db.open()
    pool_collector.stats_fn = db.stats
    rds.open()
    task = asyncio.create_task(_migrate_and_seed())
    try:
        yield
    finally:
        task.cancel()
        client = market.client_holder["client"]
        if client is not None:
            await client.aclose()
        await rds.close()
        await db.close()
        log.info("backend stopped")


app = FastAPI(title="alertdrill reference trading-signals backend", version=settings.release, lifespan=lifespan)


@app.exception_handler(StarletteHTTPException)
async def http_exc(request: Request, exc: StarletteHTTPException):
    if exc.status_code == 400 and request.url.path == API + "/auth/login" \
            and not isinstance(exc.__cause__, ClientDisconnect):  # an unreadable login body: a failed login
        auth_login_total.labels("failure").inc()
        log.warning("auth login failure", reason="invalid_body", detail=str(exc.detail)[:120])
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


@app.exception_handler(RequestValidationError)
async def validation_exc(request: Request, exc: RequestValidationError):
    errors = []
    for e in exc.errors():
        errors.append({"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")})
    if request.url.path == API + "/auth/login":  # a malformed login is a failed login (auth_login_total)
        auth_login_total.labels("failure").inc()
        log.warning("auth login failure", reason="invalid_request", fields=",".join(
            str(e["loc"][-1]) for e in errors if e["loc"])[:120])
    return JSONResponse({"detail": errors}, status_code=422)


# Every path the app answers, FastAPI's own /openapi.json and /docs included: anything else is "unmatched"
# (labelled so and rate-limited per address).
ROUTE_TEMPLATES: list[tuple[str, set]] = [(r.path, set(r.methods or ())) for r in app.routes if isinstance(r, Route)]
app.include_router(health.router)
ROUTE_TEMPLATES += [(r.path, set(r.methods or ())) for r in health.router.routes]
for module in (auth, signals, approvals, billing, devices, market):
    app.include_router(module.router, prefix=API)
    ROUTE_TEMPLATES += [(API + r.path, set(r.methods or ())) for r in module.router.routes]

app.add_middleware(PlatformMiddleware, templates=lambda: ROUTE_TEMPLATES)
