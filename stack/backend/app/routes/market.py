"""GET /market/{instrument}: external vendor quote, cached in Redis, optional circuit breaker."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Optional

import httpx
from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from ..core.config import get_settings
from ..core.logging import log
from ..core.metrics import circuit_breaker_open
from ..core.redis import REDIS_ERRORS, rds
from ..core.util import BoundedJSONRoute

router = APIRouter(route_class=BoundedJSONRoute)

CACHE_TTL = 3600


class CircuitBreaker:
    """closed -> (N consecutive failures) -> open for RESET s -> half-open (one trial call) -> closed/open."""

    def __init__(self) -> None:
        self.failures = 0
        self.open_until = 0.0
        self.trial_in_flight = False

    def allow(self) -> bool:
        now = time.monotonic()
        if now < self.open_until:
            return False
        if self.open_until and not self.trial_in_flight:  # half-open: let one call through
            self.trial_in_flight = True
            return True
        return not self.open_until

    def success(self) -> None:
        if self.open_until:
            log.info("external_api circuit_breaker closed")
        self.failures, self.open_until, self.trial_in_flight = 0, 0.0, False
        circuit_breaker_open.set(0)

    def failure(self) -> None:
        s = get_settings()
        self.failures += 1
        self.trial_in_flight = False
        if self.failures >= s.circuit_breaker_failures:
            self.open_until = time.monotonic() + s.circuit_breaker_reset_seconds
            circuit_breaker_open.set(1)
            log.warning("external_api circuit_breaker open", failures=self.failures,
                        reset_seconds=s.circuit_breaker_reset_seconds)


breaker = CircuitBreaker()
client_holder: dict[str, Optional[httpx.AsyncClient]] = {"client": None}


def get_client() -> httpx.AsyncClient:
    c = client_holder["client"]
    if c is None:
        c = client_holder["client"] = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20), trust_env=False)
    return c


async def _cached(instrument: str) -> Optional[dict]:
    try:
        raw = await asyncio.wait_for(rds.client.get(f"cache:quote:{instrument}"), 0.5)
    except REDIS_ERRORS:
        return None
    return json.loads(raw) if raw else None


async def _serve_cache(instrument: str, reason: str) -> JSONResponse:
    cached = await _cached(instrument)
    if cached is None:
        log.warning("external_api no cached quote", instrument=instrument, reason=reason)
        return JSONResponse({"detail": f"vendor unavailable ({reason}) and no cached quote"}, status_code=503)
    log.info("external_api served cached quote", instrument=instrument, reason=reason)
    return JSONResponse({"instrument": instrument, "cached": True, "reason": reason, "quote": cached})


@router.get("/market/{instrument}")
async def market_quote(instrument: str = Path(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9._-]+$")):
    s = get_settings()
    use_breaker = s.circuit_breaker_enabled
    if use_breaker and not breaker.allow():
        return await _serve_cache(instrument, "circuit_open")
    timeout = s.circuit_breaker_call_timeout if use_breaker else s.vendor_timeout
    url = f"{s.vendor_url}/quote/{instrument}"
    t0 = time.perf_counter()
    try:
        resp = await get_client().get(url, timeout=timeout)
        duration_ms = round((time.perf_counter() - t0) * 1000, 1)
        if resp.status_code >= 500:
            raise httpx.HTTPStatusError(f"vendor status {resp.status_code}", request=resp.request, response=resp)
    except (httpx.HTTPError, OSError) as exc:
        duration_ms = round((time.perf_counter() - t0) * 1000, 1)
        kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "error"
        log.warning("external_api call failed", vendor_url=url, outcome=kind, duration_ms=duration_ms,
                    error=type(exc).__name__)
        if use_breaker:
            breaker.failure()
            return await _serve_cache(instrument, f"vendor_{kind}")
        status = 504 if kind == "timeout" else 502
        return JSONResponse({"detail": f"vendor {kind}"}, status_code=status)
    log.info("external_api call", vendor_url=url, status=resp.status_code, duration_ms=duration_ms)
    if use_breaker:
        breaker.success()
    if resp.status_code == 404:
        return JSONResponse({"detail": "unknown instrument"}, status_code=404)
    if resp.status_code >= 400:
        return JSONResponse({"detail": f"vendor rejected request ({resp.status_code})"}, status_code=502)
    try:
        quote = resp.json()
    except ValueError:
        return JSONResponse({"detail": "vendor returned invalid JSON"}, status_code=502)
    try:
        await asyncio.wait_for(rds.client.set(f"cache:quote:{instrument}", json.dumps(quote), ex=CACHE_TTL), 0.5)
    except REDIS_ERRORS as exc:
        log.warning("external_api cache write failed", instrument=instrument, error=type(exc).__name__)
    return JSONResponse({"instrument": instrument, "cached": False, "quote": quote})
