"""vendor: the external market-data API stand-in (uvicorn vendor.app:app as a subprocess)."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from servers import uvicorn_app

pytestmark = pytest.mark.platform



@pytest.fixture(scope="module")
def vendor_api(tmp_path_factory):
    with uvicorn_app("vendor.app:app", tmp_path_factory.mktemp("vendor")) as (client, log_path):
        yield client


def test_health(vendor_api):
    r = vendor_api.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize("instrument,lo,hi", [
    ("EURUSD", 0.9, 1.3), ("GBPUSD", 1.0, 1.5), ("XAUUSD", 1800, 2900), ("USDJPY", 120, 180), ("ABC", 0.01, 1e6),
])
def test_quote_shape(vendor_api, instrument, lo, hi):
    r = vendor_api.get(f"/quote/{instrument}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    q = r.json()
    assert {"instrument", "bid", "ask", "ts"} <= set(q)
    assert q["instrument"] == instrument
    assert isinstance(q["bid"], float) and isinstance(q["ask"], float)
    assert lo < q["bid"] < q["ask"] < hi
    assert datetime.fromisoformat(q["ts"].replace("Z", "+00:00")).tzinfo is not None
    assert abs(q["ts_unix"] - time.time()) < 5


def test_random_walk_moves_but_stays_plausible(vendor_api):
    quotes = [vendor_api.get("/quote/EURUSD").json() for _ in range(50)]
    mids = [(q["bid"] + q["ask"]) / 2 for q in quotes]
    assert len(set(mids)) > 5, "prices should move"
    assert max(mids) / min(mids) < 1.05, "but not wildly"
    assert all(q["ask"] - q["bid"] < 0.01 for q in quotes)


@pytest.mark.parametrize("instrument", ["eurusd", "AB", "ABCDEFGHIJK", "EUR1USD", "EUR-USD"])
def test_unknown_instrument_is_404_json(vendor_api, instrument):
    r = vendor_api.get(f"/quote/{instrument}")
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "unknown_instrument" and body["instrument"] == instrument


def test_fast(vendor_api):
    t0 = time.monotonic()
    for _ in range(100):
        assert vendor_api.get("/quote/XAUUSD").status_code == 200
    assert time.monotonic() - t0 < 2.0, "no artificial delay: 100 quotes well under 2 s"
