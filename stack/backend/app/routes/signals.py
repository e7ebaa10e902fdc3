from __future__ import annotations

import math
from typing import Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from ..core.config import get_settings
from ..core.db import db, fetchall, fetchone
from ..core.logging import log
from ..core.metrics import signals_ingested_total
from ..core.security import CurrentUser, current_user, is_signal_producer
from ..core.util import BoundedJSONRoute, json_body, json_rows_sql, jsonable, storable

router = APIRouter(route_class=BoundedJSONRoute)

# RELEASE selects the build's code path for GET /signals (the "bad deploy, roll back" drill).
BAD_RELEASE = "1.5.0-rc1"
COLUMNS = "id, instrument, side, price, quality, source, client_ref, created_at"
GOOD_LIST_SQL = f"SELECT {COLUMNS} FROM signals ORDER BY id DESC LIMIT %s"
# 1.5.0-rc1 shipped reading signals.risk_score before its migration existed: a real UndefinedColumn.
BAD_LIST_SQL = f"SELECT {COLUMNS}, risk_score FROM signals ORDER BY id DESC LIMIT %s"


class SignalIn(BaseModel):
    instrument: str = Field(min_length=1, max_length=20)
    side: Literal["buy", "sell"]
    price: float = Field(gt=0)
    quality: float = Field(ge=0, le=1)
    source: str = Field(min_length=1, max_length=64)
    client_ref: str = Field(min_length=1, max_length=128)

    @field_validator("price")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("price must be finite")
        return v

    @field_validator("instrument", "source", "client_ref")
    @classmethod
    def _no_blank(cls, v: str) -> str:
        if not v.strip() or not storable(v):
            raise ValueError("must not be blank or contain NUL bytes or unpaired surrogates")
        return v


@router.post("/signals")
async def ingest_signal(body: SignalIn, x_api_key: str | None = Header(default=None)):
    if not is_signal_producer(x_api_key):
        raise HTTPException(status_code=401, detail="invalid or missing X-API-Key")
    async with db.connection() as conn:
        row = await fetchone(
            conn,
            "INSERT INTO signals (instrument, side, price, quality, source, client_ref)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (client_ref) DO NOTHING"
            f" RETURNING {COLUMNS}",
            (body.instrument, body.side, body.price, body.quality, body.source, body.client_ref),
        )
        if row is not None:
            signals_ingested_total.inc()
            log.info("signal ingested", signal_source=body.source, id=row["id"], instrument=row["instrument"],
                     side=row["side"], client_ref=body.client_ref)
            return JSONResponse(jsonable(row), status_code=201)
        row = await fetchone(conn, f"SELECT {COLUMNS} FROM signals WHERE client_ref = %s", (body.client_ref,))
    log.info("signal duplicate retry", signal_source=body.source, id=row["id"] if row else None,
             client_ref=body.client_ref)
    if row is None:  # deleted between the two statements; practically impossible
        raise HTTPException(status_code=409, detail="conflicting concurrent write, retry")
    return JSONResponse(jsonable(row), status_code=200)


@router.get("/signals")
async def list_signals(limit: int = Query(default=50, ge=1, le=500), user: CurrentUser = Depends(current_user)):
    sql = BAD_LIST_SQL if get_settings().release == BAD_RELEASE else GOOD_LIST_SQL
    async with db.connection() as conn:
        row = await fetchone(conn, json_rows_sql(sql, "id DESC"), (limit,), query_type="select")
    return json_body(b'{"signals": ', row["rows"], b', "count": ', str(row["n"]).encode(), b"}")
