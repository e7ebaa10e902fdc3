"""Redis client (sessions, idempotency keys, nonces, rate-limit counters, quote cache) and the
redis_connected gauge (a real PING every second, 0.5 s timeout)."""
from __future__ import annotations

import asyncio
from typing import Optional

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .config import get_settings
from .logging import log
from .metrics import redis_connected

REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)


def _reconnect_once() -> Retry:
    """After Redis restarts, each pooled connection is dead and fails on its next use: retry that command
    once on a fresh connection (connection errors only; a timeout is not retried)."""
    return Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


class RedisHolder:
    def __init__(self) -> None:
        self.client: Optional[aioredis.Redis] = None
        self._probe: Optional[aioredis.Redis] = None
        self.limiter: Optional[aioredis.Redis] = None
        self.count_in_window = None
        self._task: Optional[asyncio.Task] = None
        self.connected = False

    def open(self) -> None:
        url = get_settings().redis_url
        self.client = aioredis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, decode_responses=True,
            health_check_interval=0, max_connections=200, retry=_reconnect_once(),
        )
        # the rate limiter's own client: its 0.5 s bound comes from the socket timeouts (no wait_for task per
        # request), and its counting is one round trip (INCR, and EXPIRE on the first hit, in one script)
        self.limiter = aioredis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True,
            health_check_interval=0, max_connections=200, retry=_reconnect_once(),
        )
        self.count_in_window = self.limiter.register_script(
            "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
            "return n")
        # separate connection for the health probe so it never queues behind request traffic
        self._probe = aioredis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, decode_responses=True,
        )
        self._task = asyncio.create_task(self._ping_loop())

    async def _ping_loop(self) -> None:
        while True:
            ok = False
            try:
                ok = bool(await asyncio.wait_for(self._probe.ping(), 0.5))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means "not connected"
                if self.connected or log.throttled("redis_ping_fail", 30):
                    log.warning("redis disconnected ping failed", error=type(exc).__name__)
                try:
                    await self._probe.connection_pool.disconnect()
                except Exception:
                    pass
            if ok and not self.connected:
                log.info("redis connected")
            self.connected = ok
            redis_connected.set(1 if ok else 0)
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except BaseException:
                pass
        for c in (self.client, self.limiter, self._probe):
            if c is not None:
                try:
                    await c.aclose()
                except Exception:
                    pass


rds = RedisHolder()
