from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..core.db import db, fetchone
from ..core.redis import rds

router = APIRouter()


@router.get("/health")
async def health():
    return {"status": "ok"}


@router.get("/ready")
async def ready():
    checks: dict[str, str] = {}
    try:
        async def pg():
            async with db.connection(timeout=2.0) as conn:
                await fetchone(conn, "SELECT 1 AS ok")
        await asyncio.wait_for(pg(), 3.0)
        checks["postgres"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["postgres"] = f"error: {type(exc).__name__}: {exc}"[:200]
    try:
        await asyncio.wait_for(rds.client.ping(), 1.0)
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}: {exc}"[:200]
    checks["migrations"] = "ok" if db.migrated else "pending"
    failed = [k for k, v in checks.items() if v != "ok"]
    if failed:
        return JSONResponse({"status": "not ready", "failed": failed, "checks": checks}, status_code=503)
    return {"status": "ready", "checks": checks}


@router.get("/metrics", include_in_schema=False)
async def metrics():
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
