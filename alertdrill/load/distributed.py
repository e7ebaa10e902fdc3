"""Locust's own distributed mode for LocustLoad (`--load-workers N`): the LocustLoad process becomes the
master (`--master --expect-workers N`, bound to 127.0.0.1 on a free port) and N worker processes
(`--worker --master-host 127.0.0.1`) run the users, with the same locustfiles. The master aggregates the
workers' statistics, so the drills' figures (the reporter on its `quit` event) come from the master.

On several machines the same command lines apply: one master bound to a reachable address, workers started
on the other machines with `--master-host <master>` (docs/load.md). Here the workers are local processes.

    configure(workers=2)        # what the pytest option --load-workers sets for every LocustLoad
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

MASTER_HOST = "127.0.0.1"
CONNECT_TIMEOUT_S = 60  # --expect-workers-max-wait: the master gives up if the workers do not connect

_default_workers = 0


def configure(workers: int) -> None:
    """The number of workers every LocustLoad uses unless it says otherwise (0: one local process)."""
    global _default_workers
    _default_workers = check_workers(workers)


def default_workers() -> int:
    return _default_workers


def check_workers(workers) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"load workers={workers!r}: expected an integer >= 0 (0: no distributed mode)")
    return workers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((MASTER_HOST, 0))
        return s.getsockname()[1]


def master_args(workers: int, port: int) -> list[str]:
    return ["--master", "--master-bind-host", MASTER_HOST, "--master-bind-port", str(port),
            "--expect-workers", str(workers), "--expect-workers-max-wait", str(CONNECT_TIMEOUT_S)]


class Workers:
    """N `locust --worker` processes attached to a master on 127.0.0.1:port, each in its own session
    (so a stop reaches its whole process group), each logging to run_dir/worker-<i>.log."""

    def __init__(self, files: str, n: int, port: int, run_dir: Path, env: dict[str, str]) -> None:
        self.files, self.n, self.port, self.run_dir = files, n, port, run_dir
        self.env = {k: v for k, v in env.items() if k != "ALERTDRILL_LOAD_REPORT"}  # the master reports
        self.procs: list[subprocess.Popen] = []

    def command(self) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", self.files, "--worker", "--master-host", MASTER_HOST,
                "--master-port", str(self.port), "--loglevel", "INFO"]

    def start(self) -> None:
        for i in range(self.n):
            with open(self.run_dir / f"worker-{i}.log", "ab") as log:
                self.procs.append(subprocess.Popen(self.command(), cwd=self.run_dir, env=self.env,
                                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                                   start_new_session=True))

    def stop(self, grace: float) -> None:
        """Workers quit when their master does; any still running after `grace` seconds is killed."""
        for proc in self.procs:
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    _signal(proc, signal.SIGKILL)
                    proc.wait(10)

    def kill(self) -> None:
        for proc in self.procs:
            _signal(proc, signal.SIGKILL)

    @property
    def running(self) -> int:
        return sum(1 for p in self.procs if p.poll() is None)


def _signal(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is not None:  # reaped: its pid may belong to somebody else now
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
