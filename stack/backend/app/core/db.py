"""Postgres access: an AsyncConnectionPool wrapper used by the app, plus `engine` for one-off checks.

`python -c "from backend.app.core.db import engine; print(engine.connect())"` opens and prints a plain
psycopg connection to DATABASE_URL (the runbook's connectivity check).
"""
from __future__ import annotations

import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Optional

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from .config import get_settings
from .logging import log
from .metrics import db_query_duration_seconds

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
MIGRATION_LOCK_KEY = 7_301_955_214  # arbitrary constant for pg_advisory_lock


class DatabaseUnavailable(Exception):
    """No pool connection could be obtained (pool exhausted or database unreachable)."""

    def __init__(self, message: str, exhausted: bool) -> None:
        super().__init__(message)
        self.exhausted = exhausted


class Engine:
    """Synchronous connectivity helper (SQLAlchemy-like name for the runbook's one-liner)."""

    @property
    def url(self) -> str:
        return get_settings().database_url

    def connect(self, timeout: int = 5) -> psycopg.Connection:
        return psycopg.connect(self.url, connect_timeout=timeout, autocommit=True)

    def __repr__(self) -> str:
        return f"Engine(url={self.url.split('@')[-1]})"


engine = Engine()


class Database:
    def __init__(self) -> None:
        self.pool: Optional[AsyncConnectionPool] = None
        self.max_size = 0
        self.timeout = 10.0
        self.migrated = False

    async def open(self) -> None:
        s = get_settings()
        self.max_size = s.db_pool_size
        self.timeout = s.db_pool_timeout
        self.pool = AsyncConnectionPool(
            s.database_url,
            min_size=min(2, self.max_size),
            max_size=self.max_size,
            timeout=self.timeout,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 5},
            reconnect_timeout=0,  # keep retrying forever when the database is away
            name="backend",
        )
        await self.pool.open(wait=False)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close(timeout=2)

    def stats(self) -> dict:
        if self.pool is None:
            return {"in_use": 0, "max": self.max_size, "waiting": 0, "open": 0}
        st = self.pool.get_stats()
        size = st.get("pool_size", 0)
        avail = st.get("pool_available", 0)
        return {
            "in_use": max(0, size - avail),
            "max": self.max_size,
            "waiting": st.get("requests_waiting", 0),
            "open": size,
        }

    @asynccontextmanager
    async def connection(self, timeout: Optional[float] = None) -> AsyncIterator[psycopg.AsyncConnection]:
        assert self.pool is not None, "database pool not opened"
        try:
            cm = self.pool.connection(timeout=timeout if timeout is not None else self.timeout)
            conn = await cm.__aenter__()
        except PoolTimeout as exc:
            st = self.stats()
            exhausted = st["in_use"] >= st["max"]
            if exhausted:
                raise DatabaseUnavailable("database connection pool exhausted", True) from exc
            raise DatabaseUnavailable("database unavailable: no connection within pool timeout", False) from exc
        try:
            yield conn
        except BaseException as exc:
            if not await cm.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await cm.__aexit__(None, None, None)


db = Database()


def _query_type(sql: str) -> str:
    word = sql.lstrip().split(None, 1)[0].lower() if sql.strip() else "other"
    if word == "with":
        low = sql.lower()
        for t in ("insert", "update", "delete"):
            if f"{t} " in low:
                return t
        return "select"
    return word if word in ("select", "insert", "update", "delete") else "other"


async def execute(conn: psycopg.AsyncConnection, sql: str, params: Any = None, query_type: Optional[str] = None):
    """Run one statement with db_query_duration_seconds timing; returns the cursor."""
    qt = query_type or _query_type(sql)
    t0 = time.perf_counter()
    try:
        cur = await conn.execute(sql, params)
        return cur
    finally:
        db_query_duration_seconds.labels(qt).observe(time.perf_counter() - t0)


async def fetchall(conn, sql: str, params: Any = None, query_type: Optional[str] = None) -> list[dict]:
    cur = await execute(conn, sql, params, query_type)
    return await cur.fetchall()


async def fetchone(conn, sql: str, params: Any = None, query_type: Optional[str] = None) -> Optional[dict]:
    cur = await execute(conn, sql, params, query_type)
    return await cur.fetchone()


def apply_migrations_sync() -> list[str]:
    """Apply migrations/NNN_*.sql in order, once each, under a pg advisory lock."""
    applied: list[str] = []
    with engine.connect() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            for path in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9]_*.sql")):
                version = path.stem
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8"))
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
                log.info("database migration applied", version=version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied
