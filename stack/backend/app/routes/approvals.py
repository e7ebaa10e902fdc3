from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..core.db import db, fetchall, fetchone
from ..core.logging import log
from ..core.metrics import approvals_total
from ..core.security import CurrentUser, current_user
from ..core.util import BoundedJSONRoute, jsonable

router = APIRouter(route_class=BoundedJSONRoute)

BIGINT_MAX = 2 ** 63 - 1


class DecisionIn(BaseModel):
    decision: Literal[0, 1]


@router.get("/approvals")
async def list_approvals(status: Literal["pending", "approved", "rejected", "all"] = "pending",
                         limit: int = Query(default=100, ge=1, le=1000)):
    where = {
        "pending": "a.id IS NULL",
        "approved": "a.decision = 1",
        "rejected": "a.decision = 0",
        "all": "TRUE",
    }[status]
    async with db.connection() as conn:
        rows = await fetchall(
            conn,
            "SELECT s.id, s.instrument, s.side, s.price, s.quality, s.source, s.created_at,"
            " a.decision, a.user_id AS decided_by, a.created_at AS decided_at"
            f" FROM signals s LEFT JOIN approvals a ON a.signal_id = s.id WHERE {where}"
            " ORDER BY s.id DESC LIMIT %s",
            (limit,),
        )
    return JSONResponse({"status": status, "count": len(rows), "approvals": [jsonable(r) for r in rows]})


@router.post("/approvals/{signal_id}")
async def decide(body: DecisionIn, signal_id: int = Path(ge=1, le=BIGINT_MAX),
                 user: CurrentUser = Depends(current_user)):
    async with db.connection() as conn:
        row = await fetchone(
            conn,
            "INSERT INTO approvals (signal_id, user_id, decision)"
            " SELECT %s, %s, %s WHERE EXISTS (SELECT 1 FROM signals WHERE id = %s)"
            " ON CONFLICT (signal_id) DO NOTHING RETURNING id, signal_id, user_id, decision, created_at",
            (signal_id, user.user_id, body.decision, signal_id),
        )
        if row is None:
            existing = await fetchone(conn, "SELECT decision FROM approvals WHERE signal_id = %s", (signal_id,))
            if existing is None:
                raise HTTPException(status_code=404, detail="unknown signal")
            raise HTTPException(status_code=409, detail="signal already decided")
    result = "approved" if body.decision == 1 else "rejected"
    approvals_total.labels(result).inc()
    log.info("approval recorded", signal_id=signal_id, result=result, user_id=user.user_id)
    return JSONResponse(jsonable(row), status_code=201)
