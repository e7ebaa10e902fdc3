#!/usr/bin/env python3
"""Benchmark the drills: run them (or read the timelines of a run) and print, per drill, the time of
each phase and the total, then the wall time of the run.

    .venv/bin/python scripts/bench_drills.py                    # every drill (pytest scenarios)
    .venv/bin/python scripts/bench_drills.py -k RedisDisconnected
    .venv/bin/python scripts/bench_drills.py --tier tests/drill # the broken-alerting drills
    .venv/bin/python scripts/bench_drills.py --read .alertdrill/timelines   # a finished run's timelines

Extra arguments after `--` go to pytest (e.g. `-- --reuse-stack`). Figures, not verdicts: nothing here
asserts a time.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Phases folded into one column each (a scenario may have several of a kind).
COLUMNS = ("steady state", "workload", "fault", "fires", "investigate", "remediation", "resolves",
           "stays resolved", "invariant")


def column(phase: str) -> str:
    if "stays resolved" in phase:
        return "stays resolved"
    for c in ("fires", "resolves"):
        if phase.endswith(c):
            return c
    return next((c for c in COLUMNS if phase.startswith(c)), "other")


def table(timelines: list[dict]) -> str:
    cols = [*COLUMNS, "other"]
    head = f"{'drill':44s} {'outcome':8s} " + " ".join(f"{c[:9]:>9s}" for c in cols) + f" {'total':>7s}"
    lines = [head, "-" * len(head)]
    for t in sorted(timelines, key=lambda t: t["phases"][0]["started"] if t["phases"] else 0):
        sums = dict.fromkeys(cols, 0.0)
        for p in t["phases"]:
            sums[column(p["name"])] += (p["ended"] or p["started"]) - p["started"]
        total = ((t["phases"][-1]["ended"] or 0) - t["phases"][0]["started"]) if t["phases"] else 0.0
        lines.append(f"{t['scenario'][:44]:44s} {t['outcome'][:8]:8s} "
                     + " ".join(f"{sums[c]:9.1f}" for c in cols) + f" {total:7.1f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default=None, help="pytest -k expression (default: every drill)")
    ap.add_argument("--tier", default="scenarios", help="test folder to run (default scenarios)")
    ap.add_argument("--read", type=Path, default=None, help="only read the timelines in this folder")
    ap.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
    args = ap.parse_args()
    if args.read:
        timelines = [json.loads(p.read_text()) for p in sorted(args.read.glob("*.json"))]
        print(table(timelines))
        return 0
    out = Path(tempfile.mkdtemp(prefix="alertdrill-bench-"))
    cmd = [str(ROOT / ".venv/bin/pytest"), args.tier, "-p", "no:cacheprovider", "-q",
           f"--drill-artifacts={out}", *(["-k", args.k] if args.k else []), *args.pytest_args]
    print("running:", " ".join(cmd), flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT)
    wall = time.monotonic() - started
    timelines = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    print(table(timelines))
    print(f"\n{len(timelines)} drills, pytest exit {proc.returncode}, wall time {wall:.0f} s "
          f"({wall / 60:.1f} min) for {args.tier}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
