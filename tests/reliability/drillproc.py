"""A drill run as CI runs it: a pytest process of its own, followed through its event log
(<artifacts>/<drill>.events.jsonl) and signalled in a chosen phase; and the checks that nothing was left
behind afterwards (toxics, edited config files, table locks, Locust processes, containers)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from alertdrill.config import current as current_config
from alertdrill.target.clients import ToxiproxyClient
from alertdrill.target import lane as lanes
from alertdrill.target.clients.docker import DockerClient
from alertdrill.target.preflight import (EXCLUSIVE_LOCKS, LOCK_HOLDERS, differing_config_files_by_service,
                                         locust_processes)
from alertdrill.target.settings import Endpoints

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = "scenarios/test_high_api_latency.py"  # an env edit, a workload, a toxic and a runbook action
STEM = "test_HighAPILatency"


@dataclass(frozen=True)
class Trigger:
    """Signal the drill `delay_s` after the `nth` record of `kind` whose name starts with `name`."""
    phase: str  # the word for it
    kind: str  # phase_started | event
    name: str
    nth: int = 1
    delay_s: float = 0.0


PHASES = {
    "steady state": Trigger("steady state", "phase_started", "steady state", delay_s=1.0),
    "workload": Trigger("workload", "phase_started", "workload", delay_s=3.0),
    "fault injected": Trigger("fault injected", "event", "injected", nth=2, delay_s=1.0),
    "firing": Trigger("firing", "event", "firing"),
    "remediation": Trigger("remediation", "phase_started", "remediation", delay_s=0.5),
}


@dataclass
class Outcome:
    code: int
    output: str
    timeline: dict | None
    signalled_at: str | None


def run_drill(artifacts: Path, *, reuse: bool, signals: tuple[int, ...] = (), trigger: Trigger | None = None,
              second_after_s: float = 1.0, timeout_s: float = 600) -> Outcome:
    """Run the drill in a pytest process; with `trigger`, send it `signals` (the second one
    `second_after_s` after the first, i.e. while it heals)."""
    cmd = [sys.executable, "-m", "pytest", SCENARIO, "-p", "no:cacheprovider", "-q", "--live-view=plain",
           f"--drill-artifacts={artifacts}", "--drill-history=none", *(["--reuse-stack"] if reuse else [])]
    events = artifacts / f"{STEM}.events.jsonl"
    events.unlink(missing_ok=True)
    log = artifacts / "pytest.log"
    artifacts.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        # its own session: the signal reaches pytest only, as a CI runner's would
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_foreground_signals)
        signalled = None
        try:
            if trigger is not None:
                signalled = _when(trigger, events, proc, timeout_s)
                if signalled is not None:
                    for i, sig in enumerate(signals):
                        if i:
                            time.sleep(second_after_s)
                        proc.send_signal(sig)
            proc.wait(timeout_s)
        finally:
            if proc.poll() is None:  # the test's own budget ran out: never leave it running
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    timeline = artifacts / f"{STEM}.json"
    return Outcome(proc.returncode, log.read_text(), json.loads(timeline.read_text()) if timeline.exists() else None,
                   signalled)


def _foreground_signals() -> None:
    """In the child: SIGINT, SIGTERM and SIGHUP as a foreground run has them, even when this suite runs
    as a background job (which starts with SIGINT ignored, and under nohup SIGHUP too)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _when(trigger: Trigger, events: Path, proc: subprocess.Popen, timeout_s: float) -> str | None:
    """Wait for the trigger's record; None if the drill ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        seen = 0
        if events.exists():
            for line in events.read_text().splitlines():
                rec = json.loads(line)
                if rec["kind"] == trigger.kind and rec["name"].startswith(trigger.name):
                    seen += 1
                    if seen == trigger.nth:
                        time.sleep(trigger.delay_s)
                        return f"{rec['kind']} {rec['name']}"
        time.sleep(0.2)
    return None


def leftovers(*, stack_up: bool) -> list[str]:
    """What a drill left behind. With the stack up: toxics, disabled proxies, config files differing
    from the image, table locks, Locust processes. With it down: also any container or volume of the
    project."""
    conf = current_config()
    found = [f"Locust process {p.pid} ({' '.join(p.info['cmdline'][:4])})" for p in locust_processes(conf.state_dir)]
    lane = lanes.current()  # the project and container names of the lane this run is in
    if not stack_up:
        found += _project_objects(lane.project)
        return found
    ends = Endpoints.from_env()
    for name, p in ToxiproxyClient(ends.toxiproxy).proxies().items():
        if p.get("toxics") or not p.get("enabled", True):
            found.append(f"toxiproxy {name}: toxics {[t['name'] for t in p.get('toxics', [])]}, "
                         f"enabled {p.get('enabled')}")
    docker = DockerClient(container=lane.container)
    try:
        differing = differing_config_files_by_service(docker, conf.services)
        found += [f"{service}:{path} differs from the image" for service, paths in differing.items() for path in paths]
    finally:
        docker.close()
    with psycopg.connect(ends.postgres_dsn, connect_timeout=5, autocommit=True) as conn:
        found += [f"postgres session {pid} ({app}) holds a table lock: {q}"
                  for pid, app, q in conn.execute(LOCK_HOLDERS, (list(EXCLUSIVE_LOCKS),)).fetchall()]
    return found


def project_names(project: str, kind: str = "container") -> list[str]:
    """Names of the project's containers or volumes (compose labels them with the project)."""
    label = f"label=com.docker.compose.project={project}"
    cmd = (["docker", "ps", "-a", "--filter", label, "--format", "{{.Names}}"] if kind == "container"
           else ["docker", "volume", "ls", "--filter", label, "--format", "{{.Name}}"])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout.split()


def _project_objects(project: str) -> list[str]:
    return [f"{kind} {n} of project {project}" for kind in ("container", "volume") for n in project_names(project, kind)]


__all__ = ["PHASES", "Trigger", "Outcome", "run_drill", "leftovers", "project_names"]
