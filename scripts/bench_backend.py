#!/usr/bin/env python3
"""Benchmark the backend's two hot read paths against a running backend (loopback only).

Registers a device (login as the demo user, POST /api/v1/devices), makes sure a few signals exist,
then drives GET /api/v1/signals (Bearer) and signed GET /api/v1/ea/poll requests with httpx (async,
bounded request count and concurrency) and prints requests/s and latency percentiles for each.

    .venv/bin/python scripts/bench_backend.py --url http://127.0.0.1:8000 --requests 3000 --concurrency 32

The limiter counts per client address and route, and the address is the TCP peer (X-Forwarded-For counts
only from the backend's TRUSTED_PROXIES): against a backend with RATE_LIMIT_PER_MINUTE=120 most requests
are 429s (reported separately) unless its limit is raised, or its TRUSTED_PROXIES includes 127.0.0.1 so
that the distinct X-Forwarded-For each request carries from 198.18.0.0/15 (unless --no-spread-ip) counts.
The httpx client here is itself the bottleneck: scripts/bench_wrk.py measures with wrk.
--database-url / --redis-url are optional: when given, the script prints row/key counts before and after.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import statistics
import sys
import time
import uuid
from urllib.parse import urlparse

import httpx

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
BENCH_NET = ipaddress.ip_network("198.18.0.0/15")


def require_loopback(url: str) -> None:
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        sys.exit(f"refusing to benchmark non-loopback host {host!r}")


def spread_ip(i: int) -> str:
    return str(BENCH_NET.network_address + 1 + (i % (BENCH_NET.num_addresses - 2)))


def ea_headers(device: dict, path: str, ip: str | None) -> dict:
    ts, nonce = str(int(time.time())), secrets.token_hex(12)
    mac = hmac.new(device["secret"].encode(), f"GET\n{path}\n{ts}\n{nonce}\n".encode(), hashlib.sha256).hexdigest()
    h = {"X-Device-Id": device["device_id"], "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": mac}
    if ip:
        h["X-Forwarded-For"] = ip
    return h


async def drive(client: httpx.AsyncClient, name: str, n: int, conc: int, make_request) -> dict:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    counter = iter(range(n))

    async def worker():
        for i in counter:
            t0 = time.perf_counter()
            try:
                r = await make_request(client, i)
                code = r.status_code
            except httpx.HTTPError:
                code = -1
            latencies.append(time.perf_counter() - t0)
            codes[code] = codes.get(code, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    wall = time.perf_counter() - t0
    lat = sorted(latencies)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    res = {"name": name, "requests": n, "seconds": wall, "rps": n / wall, "p50_ms": q(0.50), "p95_ms": q(0.95),
           "p99_ms": q(0.99), "mean_ms": statistics.fmean(lat) * 1000, "codes": dict(sorted(codes.items()))}
    print(f"{name:<22} {res['rps']:8.1f} req/s   p50 {res['p50_ms']:7.1f} ms   p95 {res['p95_ms']:7.1f} ms   "
          f"p99 {res['p99_ms']:7.1f} ms   status {res['codes']}")
    return res


def counts(db_url: str | None, redis_url: str | None) -> str:
    out = []
    if db_url:
        import psycopg
        with psycopg.connect(db_url, connect_timeout=5) as c:
            out.append(f"signals={c.execute('SELECT count(*) FROM signals').fetchone()[0]}")
            out.append(f"devices={c.execute('SELECT count(*) FROM devices').fetchone()[0]}")
    if redis_url:
        import redis
        r = redis.Redis.from_url(redis_url, socket_timeout=2)
        out.append(f"nonce_keys={sum(1 for _ in r.scan_iter('nonce:*', count=1000))}")
    return " ".join(out)


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--redis-url", default=None)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--email", default="trader@example.com")
    ap.add_argument("--password", default="trader-password")
    ap.add_argument("--signal-api-key", default="dev-signal-key")
    ap.add_argument("--no-spread-ip", action="store_true")
    args = ap.parse_args()
    require_loopback(args.url)
    for u in (args.database_url, args.redis_url):
        if u:
            require_loopback(u.replace("postgresql://", "http://").replace("redis://", "http://"))
    n, conc = max(1, min(args.requests, 100_000)), max(1, min(args.concurrency, 256))
    spread = not args.no_spread_ip

    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=args.url, timeout=30, limits=limits, trust_env=False) as c:
        r = await c.post("/api/v1/auth/login", json={"email": args.email, "password": args.password},
                         headers={"X-Forwarded-For": spread_ip(10**6)} if spread else {})
        r.raise_for_status()
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await c.post("/api/v1/devices", headers={**auth, **({"X-Forwarded-For": spread_ip(10**6 + 1)} if spread else {})})
        r.raise_for_status()
        device = r.json()
        for i in range(5):  # some signals newer than the device, so polls return rows
            await c.post("/api/v1/signals", headers={"X-API-Key": args.signal_api_key, **(
                {"X-Forwarded-For": spread_ip(10**6 + 2 + i)} if spread else {})},
                json={"instrument": "EURUSD", "side": "buy", "price": 1.08, "quality": 0.7, "source": "bench",
                      "client_ref": f"bench-{uuid.uuid4().hex}"})
        print(f"backend {args.url}  device {device['device_id']}  requests {n}  concurrency {conc}  "
              f"{counts(args.database_url, args.redis_url)}")

        async def get_signals(client, i):
            return await client.get("/api/v1/signals?limit=50",
                                    headers={**auth, **({"X-Forwarded-For": spread_ip(i)} if spread else {})})

        async def ea_poll(client, i):
            return await client.get("/api/v1/ea/poll",
                                    headers=ea_headers(device, "/api/v1/ea/poll", spread_ip(n + i) if spread else None))

        # warm-up (connections, prepared statements, device cache)
        await drive(c, "warmup", min(200, n), conc, ea_poll)
        await drive(c, "GET /api/v1/signals", n, conc, get_signals)
        await drive(c, "GET /api/v1/ea/poll", n, conc, ea_poll)
        if args.database_url or args.redis_url:
            print("after:", counts(args.database_url, args.redis_url))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
