"""Two checkouts in different lanes run a drill at the same time and both pass (issue 13: isolation).

This checkout runs the drill in lane 1, a second checkout (a `git clone --shared` of HEAD in a temporary
directory) in lane 2, concurrently, each starting and tearing down its own stack. Asserted: both pass;
both stacks really ran side by side; each drill's runbook investigation saw its own lane's container;
afterwards neither lane left a container; lane 0's containers, if any run, were not touched.

On demand (minutes, two stacks at once): `--lanes`, part of `make reliability`; skipped otherwise.
Both checkouts run this environment's alertdrill (installed once, like a platform's two checkouts of its
own repository); everything a checkout owns (configuration, compose file and build context, runbook,
scenarios, state directory) is its own."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DRILL = "RedisDisconnected"  # among the cheapest drills; kills a container, runs docker ps/exec and compose
LANES = (1, 2)
RUN_TIMEOUT_S = 1500  # two cold stacks building and starting on a small machine, then the drill

pytestmark = pytest.mark.stack  # needs the engine; `make fast` deselects it


def docker(*args: str, timeout: float = 60) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"`docker {' '.join(args)}` failed ({proc.returncode}): {proc.stderr.strip()}"
    return proc.stdout


def lane_containers(lane: int) -> list[str]:
    """Every container (any state) of the lane: by name and by compose project."""
    by_name = docker("ps", "-a", "--filter", f"name=lane{lane}-", "--format", "{{.Names}}").split()
    by_project = docker("ps", "-a", "--filter", f"label=com.docker.compose.project=alertdrill-lane{lane}",
                        "--format", "{{.Names}}").split()
    return sorted(set(by_name + by_project))


def lane0_snapshot() -> dict[str, tuple]:
    """Lane 0's containers (project alertdrill): id, state, start time and restart count."""
    ids = docker("ps", "-aq", "--filter", "label=com.docker.compose.project=alertdrill").split()
    if not ids:
        return {}
    return {c["Name"]: (c["Id"], c["State"]["Status"], c["State"]["StartedAt"], c["RestartCount"])
            for c in json.loads(docker("inspect", *ids))}


def remove_lane(lane: int) -> None:
    """Last-resort cleanup when a run died before its own teardown."""
    left = lane_containers(lane)
    if left:
        subprocess.run(["docker", "rm", "-f", *left], capture_output=True, timeout=120)


class Watcher(threading.Thread):
    """Samples the running containers every 2 s: proof that the two stacks ran at the same time."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.both_up_at: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(2):
            proc = subprocess.run(["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True,
                                  timeout=30)
            names = set(proc.stdout.split())
            if all(f"lane{n}-redis" in names and f"lane{n}-backend" in names for n in LANES):
                self.both_up_at.append(time.time())


def second_checkout(tmp: Path) -> Path:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    clone = tmp / "second-checkout"
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(REPO), str(clone)], check=True,
                   timeout=120)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "--detach", head], check=True, timeout=120)
    binaries = REPO / "stack" / "toxiproxy" / "bin"  # gitignored: built by scripts/bootstrap.sh
    if binaries.is_dir():
        shutil.copytree(binaries, clone / "stack" / "toxiproxy" / "bin", dirs_exist_ok=True)
    return clone


def start_drill(checkout: Path, lane: int, artifacts: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("ALERTDRILL_CONFIG", "PYTEST_ADDOPTS")}
    env["ALERTDRILL_LANE"] = str(lane)
    cmd = [sys.executable, "-m", "pytest", "scenarios", "-k", DRILL, "-q", "-p", "no:cacheprovider",
           f"--drill-artifacts={artifacts}", "--drill-history=none", "--live-view=plain"]
    with open(artifacts.parent / f"lane{lane}.log", "w") as log:  # the child keeps its own handle
        return subprocess.Popen(cmd, cwd=checkout, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs Docker with the compose plugin")
def test_two_checkouts_in_different_lanes_drill_side_by_side(tmp_path, request):
    if not request.config.getoption("--lanes"):
        pytest.skip("runs two stacks at once for minutes: run with --lanes (make reliability)")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("no Docker engine answers (bash scripts/bootstrap.sh)")
    for lane in LANES:
        assert not lane_containers(lane), (f"lane {lane} already has containers {lane_containers(lane)}; "
                                           f"expected none before the test. Remove them: "
                                           f"docker rm -f $(docker ps -aq --filter name=lane{lane}-)")
    lane0_before = lane0_snapshot()
    checkouts = {1: REPO, 2: second_checkout(tmp_path)}
    artifacts = {lane: tmp_path / f"lane{lane}" / "timelines" for lane in LANES}
    watcher = Watcher()
    watcher.start()
    started = time.monotonic()
    runs = {}
    try:
        for lane in LANES:
            artifacts[lane].mkdir(parents=True)
            runs[lane] = start_drill(checkouts[lane], lane, artifacts[lane])
        for lane, proc in runs.items():
            proc.wait(timeout=max(1, RUN_TIMEOUT_S - (time.monotonic() - started)))
    finally:
        for proc in runs.values():
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: the drill heals and its stack is torn down
                try:
                    proc.wait(timeout=180)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        watcher.stop.set()
        watcher.join(timeout=35)
        left = {lane: lane_containers(lane) for lane in LANES}
        for lane in LANES:
            remove_lane(lane)
    wall = time.monotonic() - started
    logs = {lane: (artifacts[lane].parent / f"lane{lane}.log").read_text() for lane in LANES}
    print(f"two lanes side by side: {wall:.0f} s wall time")

    for lane, proc in runs.items():
        assert proc.returncode == 0 and "1 passed" in logs[lane], (
            f"lane {lane} ({checkouts[lane]}): the {DRILL} drill did not pass (exit {proc.returncode}); "
            f"expected `1 passed`. Its output ends:\n{logs[lane][-3000:]}")
    assert watcher.both_up_at, ("the two stacks never ran at the same time (no moment with lane1-redis, "
                                "lane1-backend, lane2-redis and lane2-backend all running); the test proves nothing")
    for lane in LANES:
        timeline = json.loads((artifacts[lane] / f"test_{DRILL}.json").read_text())
        investigation = next(p for p in timeline["phases"] if p["name"].startswith("investigate"))
        assert f"lane{lane}-redis" in investigation.get("detail", ""), (
            f"lane {lane}: the runbook's `docker ps` did not show this lane's redis container; "
            f"investigation: {investigation}")
    assert left == {1: [], 2: []}, f"containers left behind after the runs: {left}"
    assert lane0_snapshot() == lane0_before, (f"lane 0's containers changed while lanes 1 and 2 drilled:\n"
                                              f"before {lane0_before}\nafter  {lane0_snapshot()}")
