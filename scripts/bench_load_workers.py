"""Requests/s the dashboard workload reaches against the running stack's backend with Locust on one
process, and on its distributed mode with 1 and 2 local workers (alertdrill.load.distributed).

    .venv/bin/alertdrill stack up
    .venv/bin/python scripts/bench_load_workers.py --users 60 --seconds 20 --workers 0 1 2
    .venv/bin/python scripts/bench_load_workers.py --users 200 --wait 1 --seconds 20

The backend rate-limits each client address per route (120/min): unpaced users run into 429s, which
count as failures (still requests the backend answered); paced users stay under the limit.
"""
from __future__ import annotations

import argparse

from alertdrill.load.locust import LocustLoad
from alertdrill.target.settings import Endpoints


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--wait", type=float, default=0.0,
                    help="DASHBOARD_WAIT: seconds between a user's requests (0: as fast as it can)")
    args = ap.parse_args()
    host = Endpoints.from_env().backend
    pacing = f"one request per {args.wait:g} s per user" if args.wait else "without pacing"
    print(f"dashboard workload, {args.users} users {pacing}, {args.seconds:g} s per run, host {host}")
    print(f"{'workers':>8} {'requests':>9} {'failures':>9} {'req/s':>8} {'p95 ms':>7}")
    for n in args.workers:
        load = LocustLoad("locustfiles/dashboard.py", host=host, users=args.users, spawn_rate=args.users,
                          run_time=args.seconds, workers=n, env={"DASHBOARD_WAIT": str(args.wait)},
                          name=f"bench-{n}-workers")
        stats = load.start().wait()
        row = stats.rows.get("Aggregated", {})
        rps = stats.requests() / args.seconds
        label = "1 proc" if n == 0 else str(n)
        print(f"{label:>8} {stats.requests():>9} {stats.failures():>9} {rps:>8.1f} {row.get('p95_ms') or '-':>7}")


if __name__ == "__main__":
    main()
