"""A run started on a stack an earlier, killed run left dirty: a toxic on a link, an edited backend/.env,
a session holding a table lock, a Locust process still running. Preflight resets each (and says so)
before the first drill, and the drill passes."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from alertdrill.config import current as current_config
from alertdrill.target.preflight import locust_processes
from alertdrill.wait import until
from alertdrill.target import lane as lanes
from alertdrill.target.clients import ToxiproxyClient
from alertdrill.target.clients.docker import DockerClient
from alertdrill.target.settings import Endpoints

from tests.reliability.drillproc import leftovers, run_drill

pytestmark = pytest.mark.stack

IDLE_LOCUSTFILE = textwrap.dedent("""
    from locust import User, constant, task

    class Idle(User):
        wait_time = constant(1)

        @task
        def nothing(self):
            pass
""")


def _dirty(tmp_path):
    ends = Endpoints.from_env()
    ToxiproxyClient(ends.toxiproxy).add_toxic("postgres", "left_behind", "latency", {"latency": 300})
    docker = DockerClient(container=lanes.current().container)  # this run's lane
    try:
        code, out = docker.exec("backend", ["sh", "-c", "echo DB_POOL_SIZE=2 >> backend/.env"])
        assert code == 0, f"could not dirty backend/.env: {out}"
        # a runaway job's lock, as RunawayQuery takes it, from a session nobody will end
        docker.exec_detached("postgres", ["psql", "-U", "postgres", "-d", "trading_signals", "-c",
                                          "BEGIN; LOCK TABLE payments IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3600);"],
                             environment={"PGAPPNAME": "left-behind"})
    finally:
        docker.close()
    run_dir = current_config().state_dir / "load" / "left-behind"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "idle.py").write_text(IDLE_LOCUSTFILE)
    stray = subprocess.Popen([sys.executable, "-m", "locust", "-f", "idle.py", "--headless", "-u", "1", "-r", "1",
                              "--run-time", "600s", "--host", "http://127.0.0.1:9"], cwd=run_dir,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # Dirty means the stray process is there to be found: on a loaded machine its /proc entry (cmdline,
    # cwd) can lag the spawn, and the check below would count three leftovers instead of four.
    seen = until(lambda: any(p.pid == stray.pid for p in locust_processes(current_config().state_dir)), 15,
                 poll=0.2, on_timeout=lambda: None)
    assert seen or stray.poll() is not None, "the stray Locust process never showed in the process table"
    return stray


def test_a_dirty_stack_is_reset_before_the_first_drill(running_stack, tmp_path):
    stray = _dirty(tmp_path)
    try:
        before = leftovers(stack_up=True)
        assert len(before) >= 4, f"the test failed to dirty the stack: {before}"
        outcome = run_drill(tmp_path / "run", reuse=True)
        resets = [line for line in outcome.output.splitlines() if "preflight reset:" in line]
        text = "\n".join(resets)
        for what in ("toxiproxy", "postgres: terminated session", "backend: /app/backend/.env", "Locust process"):
            assert what in text, f"preflight did not reset {what}:\n{outcome.output[-4000:]}"
        assert outcome.code == 0, outcome.output[-4000:]
        assert stray.poll() is not None, "the stray Locust process is still running"
        assert not leftovers(stack_up=True)
    finally:
        if stray.poll() is None:
            os.killpg(stray.pid, 9)
        stray.wait()
