"""Print how long the stack takes to become healthy: cold (no image built, no build cache) and warm
(images built, stack down). Usage: python scripts/bench_stack.py [--skip-cold]"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ["docker", "compose", "-f", str(ROOT / "docker-compose.test.yml")]


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed_up(build: bool) -> float:
    start = time.monotonic()
    run([*COMPOSE, "up", "-d", "--wait", *(["--build"] if build else [])])
    return time.monotonic() - start


def main() -> int:
    run([*COMPOSE, "down", "--volumes", "--remove-orphans"])
    if "--skip-cold" not in sys.argv:
        images = subprocess.run(["docker", "images", "-q", "alertdrill/*"], capture_output=True, text=True).stdout.split()
        if images:
            run(["docker", "rmi", "-f", *images])
        run(["docker", "builder", "prune", "-af"])
        cold = timed_up(build=True)
        print(f"cold (nothing built -> all healthy): {cold:.1f} s", flush=True)
        run([*COMPOSE, "down", "--volumes", "--remove-orphans"])
    warm = timed_up(build=False)
    print(f"warm (images built, stack down -> all healthy): {warm:.1f} s", flush=True)
    run([*COMPOSE, "down", "--volumes", "--remove-orphans"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
