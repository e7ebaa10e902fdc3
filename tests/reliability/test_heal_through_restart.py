"""No containers: the heal of an edited env file rides out a restart the interrupted runbook left in the
daemon. The container going down under the heal's read or write is waited out (the start time moves) and
the step runs again; a failure with no restart behind it is raised, not retried."""
from __future__ import annotations

import pytest

from alertdrill.engine import faults
from alertdrill.engine.context import DrillContext
from alertdrill.engine.faults import restore_env_file
from alertdrill.target.envfile import EnvFile
from alertdrill.target.stack import Stack
from tests.doubles import stand_in

ORIGINAL, EDITED = "DB_POOL_SIZE=10\n", "DB_POOL_SIZE=2\n"


class Backend:
    """A backend container whose runbook restart is in flight: the first `fail_reads` reads hit it going
    down; its start time moves once it has come back."""

    def __init__(self, fail_reads: int, restarts: bool) -> None:
        self.text, self.fail_reads, self.restarts, self.started, self.calls = EDITED, fail_reads, restarts, 100.0, []

    def read_file(self, service: str, path: str) -> str:
        self.calls.append("read")
        if self.fail_reads:
            self.fail_reads -= 1
            if self.restarts:
                self.started = 200.0  # the restart the interrupted runbook asked for completes
            raise RuntimeError(f"cannot read {path} in {service}: OCI runtime exec failed: read init-p: "
                               "connection reset by peer")
        return self.text

    def write_file(self, service: str, path: str, text: str) -> None:
        self.calls.append("write")
        self.text = text

    def ctx(self) -> DrillContext:
        stack = stand_in(Stack, read_file=self.read_file, write_file=self.write_file,
                         started_at=lambda services: {s: self.started for s in services},
                         state=lambda service: "running (healthy)",
                         restart=lambda service: self.calls.append("restart"))
        return stand_in(DrillContext, stack=stack)


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(faults, "RESTART_SETTLE_S", 1.0)


def test_a_read_that_meets_the_restart_in_flight_is_done_again_once_the_service_is_back():
    backend = Backend(fail_reads=1, restarts=True)
    done = restore_env_file(backend.ctx(), EnvFile("backend", "backend/.env"), ORIGINAL)
    assert done == "restored backend:backend/.env and restarted backend"
    assert backend.text == ORIGINAL and backend.calls == ["read", "read", "write", "restart", "read"]


def test_a_failure_with_no_restart_behind_it_is_raised():
    backend = Backend(fail_reads=1, restarts=False)
    with pytest.raises(RuntimeError, match="cannot read backend/.env in backend"):
        restore_env_file(backend.ctx(), EnvFile("backend", "backend/.env"), ORIGINAL)
    assert backend.calls == ["read"] and backend.text == EDITED
