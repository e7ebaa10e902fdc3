"""External market-data API stand-in: GET /quote/{instrument}, GET /health.

Fast by design (no artificial delays): drills slow or break it through the Toxiproxy proxy `vendor`.
Quotes follow a per-instrument random walk seeded from the instrument name (deterministic sequence per
process), mean-reverting towards a base price so values stay plausible.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
import zlib
from datetime import datetime, timezone

from fastapi import FastAPI
from fastapi.responses import JSONResponse

INSTRUMENT_RE = re.compile(r"^[A-Z]{3,10}$")
BASE_PRICES = {
    "EURUSD": 1.0850, "GBPUSD": 1.2700, "USDJPY": 151.20, "XAUUSD": 2350.0,
    "AUDUSD": 0.6550, "USDCHF": 0.8850, "USDCAD": 1.3650, "NZDUSD": 0.6050, "BTCUSD": 65000.0,
}
SEED = int(os.environ.get("VENDOR_SEED", "42"))

def _utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _decimals(price: float) -> int:
    return 2 if price >= 500 else 3 if price >= 20 else 5


class _Walk:
    def __init__(self, instrument: str) -> None:
        seed = zlib.crc32(instrument.encode()) ^ SEED
        self.rng = random.Random(seed)
        self.base = BASE_PRICES.get(instrument) or round(0.5 + (zlib.crc32(instrument.encode()) % 20000) / 100.0, 4)
        self.mid = self.base
        self.spread = self.base * 0.00008

    def step(self) -> tuple[float, float]:
        # Mean-reverting multiplicative walk: small steps, pulled back towards the base.
        drift = 0.02 * (self.base - self.mid) / self.base
        self.mid *= 1.0 + drift + self.rng.gauss(0.0, 0.0003)
        self.mid = max(self.mid, self.base * 0.5)
        d = _decimals(self.base)
        half = max(self.spread / 2.0, 10.0 ** -d)
        return round(self.mid - half, d), round(self.mid + half, d)


_walks: dict[str, _Walk] = {}
_lock = threading.Lock()

app = FastAPI(title="vendor market-data API", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/health")
async def health() -> dict:
    return {"status": "ok", "service": "vendor"}


@app.get("/quote/{instrument}")
async def quote(instrument: str) -> JSONResponse:
    if not INSTRUMENT_RE.fullmatch(instrument):
        return JSONResponse(
            status_code=404,
            content={"error": "unknown_instrument", "instrument": instrument,
                     "detail": "unknown instrument (expected 3-10 uppercase letters, e.g. EURUSD)"},
        )
    now = time.time()
    with _lock:
        walk = _walks.get(instrument)
        if walk is None:
            if len(_walks) >= 10000:  # bounded: any 3-10 letter name is "known"
                _walks.clear()
            walk = _walks[instrument] = _Walk(instrument)
        bid, ask = walk.step()
    return JSONResponse({"instrument": instrument, "bid": bid, "ask": ask, "ts": _utc_iso(now), "ts_unix": now})
