"""Child processes that never outlive their budget: every command the suite runs (the runbook's actions
and checks, the compose CLI, docker inspect) goes through `run`, in a process group of its own, with a
timeout. On the timeout, or when the run is interrupted, the whole group is stopped (SIGTERM, then
SIGKILL), so a `docker compose` started by a runbook's bash never keeps running behind the suite's back;
and a Ctrl-C at the terminal reaches the suite, which decides, not its children."""
from __future__ import annotations

import os
import signal
import subprocess

GRACE_S = 3.0


def run(argv: list[str], *, timeout: float, cwd=None, env: dict[str, str] | None = None,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Like subprocess.run(argv, capture_output=True, text=True, timeout=timeout); raises
    subprocess.TimeoutExpired (with what it printed) after stopping the process group."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, text=True, start_new_session=True,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = stop_group(proc)
        raise subprocess.TimeoutExpired(argv, timeout, out, err) from None
    except BaseException:
        stop_group(proc)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def stop_group(proc: subprocess.Popen) -> tuple[str, str]:
    """SIGTERM to the process group, then SIGKILL to whatever of it is left after GRACE_S (a child that
    ignored the SIGTERM); returns what it printed."""
    _killpg(proc, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        _killpg(proc, signal.SIGKILL)
        out, err = proc.communicate()
    _killpg(proc, signal.SIGKILL)  # members that outlived the leader
    return out or "", err or ""


def _killpg(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # our own group (start_new_session): its id is the leader's pid
    except (ProcessLookupError, PermissionError):
        pass
