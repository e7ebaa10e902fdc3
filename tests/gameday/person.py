"""A scripted person on call, for the gameday tests: reads the drill's output on stdin, and when a line
says the alert fired (`--when`), runs the runbook's command (`--then`, bash, from the project root) as a
person would type it. Prints what it did. Usage:

    python tests/gameday/person.py --when "RedisDisconnected is FIRING" --then "docker compose ... restart redis"
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--when", required=True, help="text of the drill's line to act on")
    ap.add_argument("--then", required=True, help="the command to run")
    ap.add_argument("--cwd", default=".")
    args = ap.parse_args()
    for line in sys.stdin:
        if args.when in line:
            print(f"person: read {line.strip()!r}; running: {args.then}", flush=True)
            start = time.time()
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", args.then], cwd=args.cwd)
            print(f"person: exit {done.returncode} after {time.time() - start:.1f}s", flush=True)
            return done.returncode
    print("person: the drill never said the alert fired", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
