#!/usr/bin/env python3
"""Flake rate: run chosen drills N times on one stack and print, per drill, passes out of N and the
spread (min, median, max) of time to fire and time to resolve. The bar is 0 failures.

    .venv/bin/python scripts/flake_rate.py -n 5                        # every drill, 5 times
    .venv/bin/python scripts/flake_rate.py -n 10 -k RedisDisconnected

The stack is started once (`alertdrill stack up`, drill timings) and every round is a separate pytest
process with --reuse-stack, so each round also proves that the previous one left the stack steady.
The stack is taken down at the end (--keep-stack leaves it up). Figures, not verdicts: a failed round
is listed with its error, the script carries on, and its exit status is 1 if any round failed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"


def spread(values: list[float]) -> str:
    if not values:
        return f"{'-':>20}"
    return f"{min(values):6.1f} {statistics.median(values):6.1f} {max(values):6.1f}"


def positive(raw: str) -> int:
    n = int(raw)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{raw} is not a positive number of rounds")
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--rounds", type=positive, default=5, help="rounds per drill (default 5)")
    ap.add_argument("-k", default=None, help="pytest -k expression (default: every drill)")
    ap.add_argument("--tier", default="scenarios", help="test folder (default scenarios)")
    ap.add_argument("--keep-stack", action="store_true", help="leave the stack up at the end")
    ap.add_argument("--out", type=Path, default=None, help="folder for each round's timelines (default: a temp dir)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="alertdrill-flake-"))
    results: dict[str, list[dict]] = defaultdict(list)
    exits = []
    started = time.monotonic()
    subprocess.run([str(VENV / "alertdrill"), "stack", "up"], cwd=ROOT, check=True)
    try:
        for i in range(1, args.rounds + 1):
            round_dir = out / f"round-{i}"
            cmd = [str(VENV / "pytest"), args.tier, "-p", "no:cacheprovider", "-q", "--reuse-stack",
                   f"--drill-artifacts={round_dir}", "--drill-history=none", "--live-view=plain",
                   *(["-k", args.k] if args.k else [])]
            print(f"\n=== round {i}/{args.rounds}: {' '.join(cmd[1:])}", flush=True)
            t0 = time.monotonic()
            proc = subprocess.run(cmd, cwd=ROOT)
            exits.append(proc.returncode)
            print(f"=== round {i}: pytest exit {proc.returncode} in {time.monotonic() - t0:.0f} s", flush=True)
            for path in sorted(round_dir.glob("*.json")):
                results[path.stem].append(json.loads(path.read_text()))
    finally:
        if not args.keep_stack:
            subprocess.run([str(VENV / "alertdrill"), "stack", "down"], cwd=ROOT)
    wall = time.monotonic() - started
    print(f"\nflake rate: {args.rounds} rounds, timelines in {out}")
    head = f"{'drill':46s} {'passed':>7s}   {'fire s (min med max)':>20s}   {'resolve s (min med max)':>23s}"
    print(head + "\n" + "-" * len(head))
    failures = 0
    for name, runs in sorted(results.items()):
        passed = sum(r["outcome"] == "passed" for r in runs)
        failures += len(runs) - passed
        fire = [r["time_to_fire"] for r in runs if r.get("time_to_fire") is not None]
        resolve = [r["time_to_resolve"] for r in runs if r.get("time_to_resolve") is not None]
        print(f"{name[:46]:46s} {passed:>3d}/{len(runs):<3d}   {spread(fire):>20s}   {spread(resolve):>23s}")
        for r in runs:
            if r["outcome"] != "passed":
                print(f"    {r['outcome']}: {(r.get('error') or '').splitlines()[0][:150] if r.get('error') else ''}")
    print(f"\n{failures} failed drill runs; pytest exits {exits}; wall time {wall:.0f} s ({wall / 60:.1f} min)")
    return 1 if failures or any(exits) else 0


if __name__ == "__main__":
    sys.exit(main())
