"""What the platform tests share to run a server: a free loopback port, and one of stack/'s ASGI apps as
a uvicorn subprocess that answers its health check before the test starts and is gone after it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from alertdrill.wait import until

STACK = Path(__file__).resolve().parents[2] / "stack"


def wait_for(pred, timeout: float, interval: float = 0.05):
    """pred()'s first truthy value within `timeout`, else its value at the end (the test asserts on it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_app(app: str, workdir: Path, *, health: str = "/health", timeout: float = 10.0,
                env: dict[str, str] | None = None) -> Iterator[tuple[httpx.Client, Path]]:
    """`app` (e.g. "vendor.app:app") on a free port, with `env` added to the environment; yields a client on
    it and the server's log file."""
    port, log_path = free_port(), workdir / f"{app.split('.')[0]}.log"
    env = dict(os.environ, **(env or {}), PYTHONPATH=str(STACK), PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)],
                                cwd=str(STACK), env=env, stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2.0, trust_env=False)

    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"{app} exited rc={proc.returncode}:\n{log_path.read_text()}")
        try:
            return client.get(health).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        until(up, timeout, poll=0.05, on_timeout=lambda: pytest.fail(f"{app} did not start:\n{log_path.read_text()}"))
        yield client, log_path
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
