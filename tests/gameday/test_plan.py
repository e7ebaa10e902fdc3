"""`alertdrill gameday --plan`: every drill's plan printed, every runbook command it names found in the
runbook, and nothing changed: no container started, stopped or removed, no file written. No stack
needed; the container half takes the stack lock so no other run moves containers meanwhile."""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alertdrill.project import PROJECT_ROOT
from alertdrill.target import lane as lanes

ALERTDRILL = [sys.executable, "-m", "alertdrill.cli"]
STACK_LOCK = "/tmp/alertdrill-stack.lock"
SKIP_DIRS = {".venv", ".git"}


def plan_env() -> dict[str, str]:
    """The plan's own pytest, without this run's options (PYTEST_ADDOPTS="--durations=N" adds lines of ids)."""
    return {**{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}, "PYTHONDONTWRITEBYTECODE": "1"}


def plan(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*ALERTDRILL, "gameday", "--plan", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=plan_env())


def tracked_files() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          check=True).stdout.splitlines()


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of this checkout's files as they are now. The plan runs there, so that what it writes is
    told apart from what a drill in another lane of the same run writes into this checkout meanwhile."""
    copy = tmp_path / "checkout"
    for rel in tracked_files():
        if (PROJECT_ROOT / rel).is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / rel, copy / rel)
    return copy


def files_snapshot(where: Path) -> dict[str, tuple]:
    """Every file of the checkout but .venv and .git: tracked ones by content, others by size and mtime."""
    tracked = set(tracked_files())
    snap = {}
    for root, dirs, files in os.walk(where):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for f in files:
            path = Path(root, f)
            rel = str(path.relative_to(where))
            st = path.lstat()
            snap[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(),) if rel in tracked else (st.st_size, st.st_mtime_ns)
    return snap


def lock_held_by_an_ancestor() -> bool:
    """This test runs under `flock /tmp/alertdrill-stack.lock ...` (taking it again would wait forever)."""
    pid = os.getppid()
    while pid > 1:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        if cmdline and cmdline[0].endswith(b"flock") and STACK_LOCK.encode() in cmdline:
            return True
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def containers() -> str:
    """Every container on the machine but those of the other drill lanes of this run (`make test` drills
    in two lanes at once: theirs come and go meanwhile)."""
    mine = lanes.current()
    out = subprocess.run(["docker", "ps", "-a", "--no-trunc", "--format",
                          '{{.ID}} {{.Names}} {{.State}} {{.CreatedAt}} {{.Label "com.docker.compose.project"}}'],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    other_lanes = {lanes.Lane(n, mine.base_project).project for n in lanes.LANES} - {mine.project}
    return "\n".join(line for line in out.splitlines() if line.rsplit(" ", 1)[-1] not in other_lanes)


def scenario_ids(cwd: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "scenarios", "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=cwd, capture_output=True, text=True, timeout=120,
                         env=plan_env()).stdout
    return [line.split("::", 1)[1] for line in out.splitlines() if "::" in line]


def test_the_plan_covers_every_drill_and_writes_no_file(checkout):
    ids = scenario_ids(checkout)
    assert ids, "no drill collected in the copy of the checkout"
    before = files_snapshot(checkout)
    result = plan(cwd=checkout)
    after = files_snapshot(checkout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    planned = [line.split()[1].rstrip(":") for line in result.stdout.splitlines() if line.lstrip(".").startswith("plan ")]
    assert sorted(planned) == sorted(ids), f"planned {planned}, the scenarios are {ids}"
    assert "docker compose -f docker-compose.test.yml restart redis" in result.stdout
    assert "MISSING" not in result.stdout
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"--plan must write nothing; it changed {changed[:20]}"


@pytest.mark.stack  # waits for the stack lock: other runs must not move containers while it compares
def test_the_plan_starts_or_stops_no_container():
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine running: only the file half of --plan can be checked")
    with open(STACK_LOCK, "a") as lock:
        if not lock_held_by_an_ancestor():  # under `flock ... make test` we hold it already
            fcntl.flock(lock, fcntl.LOCK_EX)  # no other run may move containers while we compare
        before = containers()
        result = plan("RedisDisconnected", "HighAPILatency")
        after = containers()
    assert result.returncode == 0, result.stdout[-3000:]
    assert before == after, f"--plan changed the containers:\nbefore:\n{before}\nafter:\n{after}"


def test_a_runbook_without_the_action_fails_the_plan_naming_it(tmp_path):
    runbook = (PROJECT_ROOT / "docs/runbook.md").read_text()
    action = "# Redis stopped or crashed: restart it"
    assert action in runbook
    broken = tmp_path / "runbook.md"
    broken.write_text(runbook.replace(action, "# Redis: see the wiki"))
    result = plan("RedisDisconnected", "--runbook", str(broken))
    assert result.returncode != 0
    assert "MISSING: the runbook's RedisDisconnected section has no remediation action matching" in result.stdout


def test_an_unknown_alert_is_refused_listing_the_valid_ones():
    result = plan("RedisDisconected")
    assert result.returncode == 2
    assert "no drill for RedisDisconected: the runbook's alerts are" in result.stderr and "RedisDisconnected" in result.stderr
