"""The Docker daemon restarts in the middle of a drill: the drill fails saying so (not with a misleading
alerting verdict), the services come back by their restart policy, and the next run passes.

On demand only (`--restart-daemon`): it stops every container on the machine for a moment. The daemon is
stopped through the pid file scripts/bootstrap.sh wrote and started again by scripts/bootstrap.sh, as on
the machines this repository's CI uses."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.reliability.drillproc import PHASES, ROOT, leftovers, run_drill

pytestmark = pytest.mark.stack

PID_FILE = Path("/var/run/alertdrill-dockerd.pid")


@pytest.fixture(scope="module")  # module scope: decided before running_stack starts a stack for nothing
def restart_daemon_allowed(request):
    if not request.config.getoption("--restart-daemon"):
        pytest.skip("restarts the Docker daemon: run with --restart-daemon")
    if not PID_FILE.exists():
        pytest.skip(f"no {PID_FILE}: the daemon was not started by scripts/bootstrap.sh, so this test will not "
                    "restart it")


def _restart_daemon() -> None:
    pid = int(PID_FILE.read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    subprocess.run(["bash", "scripts/bootstrap.sh"], cwd=ROOT, check=True, timeout=300,
                   stdout=subprocess.DEVNULL)


def test_a_daemon_restart_fails_the_drill_by_name_and_the_next_run_passes(restart_daemon_allowed, running_stack,
                                                                          tmp_path):
    first_dir = tmp_path / "restarted"
    errors: list[BaseException] = []

    def restart_when_firing() -> None:
        try:
            _wait_for_firing(first_dir)
            _restart_daemon()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    restarter = threading.Thread(target=restart_when_firing)
    restarter.start()
    first = run_drill(first_dir, reuse=True)
    restarter.join()
    assert not errors, errors
    assert first.code != 0
    assert "Docker daemon" in first.output, first.output[-4000:]
    # the restart policy brings the services back; the next run's preflight and steady state take it from there
    again = run_drill(tmp_path / "next", reuse=True)
    assert again.code == 0, again.output[-4000:]
    assert not leftovers(stack_up=True)


def _wait_for_firing(artifacts: Path) -> None:
    trigger = PHASES["firing"]
    events = artifacts / "test_HighAPILatency.events.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if events.exists() and any(f'"name": "{trigger.name}"' in line for line in events.read_text().splitlines()):
            return
        time.sleep(0.2)
    raise AssertionError("the drill never fired")
