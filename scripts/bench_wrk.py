#!/usr/bin/env python3
"""Throughput of the backend's hot paths, measured with wrk (a load generator that is not the bottleneck).

    .venv/bin/python scripts/bench_wrk.py                 # throwaway Postgres + Redis + backend on the host
    .venv/bin/python scripts/bench_wrk.py --url http://127.0.0.1:8000   # a running backend (loopback only)

By default it starts, on free loopback ports, a Postgres and a Redis (the platform tests' throwaway servers,
tests/platform/conftest.py) and the backend as the stack runs it: `uvicorn backend.app.main:app`, one
worker, stock backend/.env except RATE_LIMIT_PER_MINUTE=100000000 (wrk sends every request from one
address; the limiter still counts each request in Redis, it just never refuses one). Against --url, the
backend's own rate limit applies (set RATE_LIMIT_PER_MINUTE high in its backend/.env first).

For each endpoint it runs wrk (-t THREADS -c CONNECTIONS -d DURATION) with scripts/wrk/bench.lua:
  GET /health                  the floor: no database, no Redis
  GET /api/v1/signals?limit=50 Bearer JWT + Redis session check + 50 rows from Postgres
  GET /api/v1/ea/poll          HMAC-signed (a fresh nonce per request, signed here beforehand and replayed by
                               the Lua script) + Redis nonce + up to 20 rows from Postgres
and prints requests/s, p50/p95/p99 latency, non-2xx answers, the backend process's CPU use during the run
and what else the machine was doing (load average, the busiest processes).
Needs wrk (Debian package `wrk`) and, for the throwaway servers, postgresql and redis-server.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx

REPO = Path(__file__).resolve().parents[1]
LUA = REPO / "scripts" / "wrk" / "bench.lua"
TARGET_RPS, TARGET_P95_MS = 1000, 50


def require_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        sys.exit(f"refusing to benchmark non-loopback host {host!r}")


def busiest(n: int = 6) -> str:
    out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True).stdout
    return "; ".join(" ".join(line.split()) for line in out.splitlines()[1:n + 1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize_profile(path: Path, top: int = 14) -> str:
    """py-spy's collapsed stacks -> where the backend's samples are: by leaf function (self time) and by
    frame of the backend / the libraries it calls (inclusive time, each counted once per stack)."""
    self_t: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        n = int(n)
        total += n
        frames = stack.split(";")
        leaf = frames[-1]
        self_t[leaf] = self_t.get(leaf, 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    if not total:
        return "  (no samples)"

    def fmt(d: dict[str, int], keep=lambda f: True) -> str:
        items = sorted(((v, k) for k, v in d.items() if keep(k)), reverse=True)[:top]
        return "\n".join(f"    {100 * v / total:5.1f}%  {k[:150]}" for v, k in items)

    by_lib: dict[str, int] = {}  # the samples under each library's frames (a stack counts once per library)
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        libs = {lib for f in stack.split(";") for lib in LIBS if f"{lib}/" in f or f"({lib}" in f}
        for lib in libs:
            by_lib[lib] = by_lib.get(lib, 0) + int(n)
    return (f"  {total} samples\n  self (leaf) time:\n{fmt(self_t)}\n  inclusive, by library:\n{fmt(by_lib)}\n"
            f"  inclusive, the backend's own functions:\n" + fmt(incl, lambda f: "backend/app" in f))


LIBS = ("backend/app/core/middleware", "backend/app/core/security", "backend/app/core/db", "psycopg_pool", "psycopg",
        "redis", "jwt", "prometheus_client", "json", "fastapi", "starlette", "uvicorn", "pydantic", "asyncio")


def run_wrk(url: str, requests_file: Path, args, backend_pid: int | None, profile: Path | None = None) -> dict:
    spy = None
    if profile is not None and backend_pid:
        spy = subprocess.Popen(["py-spy", "record", "-p", str(backend_pid), "-d", str(args.duration), "-r", "250",
                                "--format", "raw", "-o", str(profile), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "10s",
           "-s", str(LUA), url, "--", str(requests_file), str(args.threads)]
    cpu0 = cpu_seconds(backend_pid) if backend_pid else None
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    wall = time.monotonic() - t0
    if spy is not None:
        spy.wait(30)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{out.stdout}\n{out.stderr}")
    res = json.loads(line[len("WRKJSON "):])
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    if cpu0 is not None:
        res["backend_cpu"] = (cpu_seconds(backend_pid) - cpu0) / wall
    return res


def prepare(base: str, n_signed: int, workdir: Path) -> dict[str, Path]:
    """Log in, register a device, add signals, write the request files for the Lua script."""
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
        for _ in range(50):  # the demo user is seeded just after the migrations (/ready may come first)
            r = c.post("/api/v1/auth/login", json={"email": "trader@example.com", "password": "trader-password"})
            if r.status_code != 401:
                break
            time.sleep(0.2)
        r.raise_for_status()
        token = r.json()["access_token"]
        r = c.post("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        device = r.json()
        for _ in range(60):  # newer than the device: each poll returns 20 rows, the list 50
            c.post("/api/v1/signals", headers={"X-API-Key": "dev-signal-key"}, json={
                "instrument": "EURUSD", "side": "buy", "price": 1.08, "quality": 0.7, "source": "bench",
                "client_ref": f"bench-{uuid.uuid4().hex}"}).raise_for_status()
    files = {}
    files["GET /health"] = workdir / "health.txt"
    files["GET /health"].write_text("GET\t/health\n")
    files["GET /api/v1/signals"] = workdir / "signals.txt"
    files["GET /api/v1/signals"].write_text(f"GET\t/api/v1/signals?limit=50\tAuthorization=Bearer {token}\n")
    ts, path = str(int(time.time())), "/api/v1/ea/poll"
    lines = []
    for _ in range(n_signed):
        nonce = secrets.token_hex(12)
        sig = hmac.new(device["secret"].encode(), f"GET\n{path}\n{ts}\n{nonce}\n".encode(), hashlib.sha256).hexdigest()
        lines.append(f"GET\t{path}\tX-Device-Id={device['device_id']}\tX-Timestamp={ts}\tX-Nonce={nonce}\t"
                     f"X-Signature={sig}\n")
    files["GET /api/v1/ea/poll"] = workdir / "ea_poll.txt"
    files["GET /api/v1/ea/poll"].write_text("".join(lines))
    return files


class HostPlatform:
    """Throwaway Postgres + Redis + one-worker backend on the host (the platform tests' fixtures)."""

    def __init__(self, workdir: Path) -> None:
        sys.path.insert(0, str(REPO / "tests" / "platform"))
        import conftest as fx  # the throwaway servers of the platform tier

        self.pg = fx.Postgres(workdir / "pg")
        self.redis = fx.RedisServer()
        self.pg.start()
        self.redis.start()
        self.backend = fx.Backend(workdir / "app", {
            "DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url, "VENDOR_URL": "http://127.0.0.1:9",
        }, dotenv={"RATE_LIMIT_PER_MINUTE": "100000000", "LOG_LEVEL": "WARNING"})
        self.backend.start()

    def close(self) -> None:
        self.backend.stop()
        self.redis.stop()
        self.pg.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running backend (default: start a throwaway one on the host)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per endpoint (default 10, max 120)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: the backend needs a core)")
    ap.add_argument("--only", default="", help="comma list of endpoints to run: health,signals,ea")
    ap.add_argument("--profile", action="store_true",
                    help="sample the backend with py-spy during each run and print where the time goes")
    args = ap.parse_args()
    args.duration = max(1, min(args.duration, 120))
    args.connections = max(1, min(args.connections, 512))
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    os.chmod(workdir, 0o755)
    host = None
    try:
        if args.url:
            require_loopback(args.url)
            base, pid, where = args.url.rstrip("/"), None, f"running backend {args.url}"
        else:
            host = HostPlatform(workdir)
            base, pid = host.backend.url, host.backend.proc.pid
            where = (f"host backend {base} (uvicorn, 1 worker, pid {pid}), Postgres and Redis on the host "
                     f"(throwaway, fsync off)")
        files = prepare(base, args.duration * 8000, workdir)
        print(f"target: {where}")
        print(f"wrk: -t{args.threads} -c{args.connections} -d{args.duration}s; machine: {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.2f}; busiest before: {busiest()}")
        wanted = {"health": "GET /health", "signals": "GET /api/v1/signals", "ea": "GET /api/v1/ea/poll"}
        only = [wanted[k] for k in args.only.split(",") if k in wanted] or list(wanted.values())
        rows = []
        for name in only:
            prof = workdir / f"profile-{len(rows)}.txt" if args.profile else None
            if prof is not None and not shutil.which("py-spy"):
                sys.exit("--profile needs py-spy (pip install py-spy)")
            res = run_wrk(base, files[name], args, pid, prof)
            res["name"], res["load"], res["busy"] = name, os.getloadavg()[0], busiest(4)
            rows.append(res)
            if prof is not None and prof.exists():
                print(f"\nprofile of the backend during {name}:\n{summarize_profile(prof)}")
        print(f"\n{'endpoint':<22} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
              f"{'backend CPU':>12}  load   verdict (>= {TARGET_RPS} req/s, p95 < {TARGET_P95_MS} ms)")
        for r in rows:
            ok = r["name"] == "GET /health" or (r["rps"] >= TARGET_RPS and r["p95_us"] / 1000 < TARGET_P95_MS)
            cpu = f"{100 * r['backend_cpu']:.0f}%" if "backend_cpu" in r else "-"
            print(f"{r['name']:<22} {r['rps']:>8.0f} {r['p50_us'] / 1000:>8.1f} {r['p95_us'] / 1000:>8.1f} "
                  f"{r['p99_us'] / 1000:>8.1f} {r['non2xx'] + r['socket_errors']:>8} {cpu:>12}  {r['load']:.2f}   "
                  f"{'ok' if ok else 'BELOW TARGET'}")
        print(f"\nbusiest after the last run: {rows[-1]['busy'] if rows else '-'}")
        return 0
    finally:
        if host is not None:
            host.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
