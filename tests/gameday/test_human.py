"""`alertdrill gameday RedisDisconnected --remediate human --factor 30`, run as people run it: the command
itself, in a process of its own, with the CLI's own defaults (abort on an unrelated critical alert on),
against this lane's running stack. The drill injects the fault, announces the alert firing and prints the
runbook; a scripted person (tests/gameday/person.py, a separate process reading the command's output)
runs the runbook's command. With the person the drill passes and its timeline holds the time to mitigate;
without, it is aborted at its maximum duration and the fault is healed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from alertdrill.engine.remediations import RunbookAction
from alertdrill.project import PROJECT_ROOT

pytestmark = pytest.mark.drill

PERSON = Path(__file__).with_name("person.py")
STEM = "test_RedisDisconnected_crashed_"  # the timeline file of test_RedisDisconnected[crashed]
# The drill's maximum duration when nobody answers: room for steady state (about 3 s after a drill that
# passed, 7-14 s after one that failed while its alert's window drains) and RedisDisconnected firing
# (about 5 s at x30), so the abort comes while the drill waits for a person.
NOBODY_S = 60.0


class Gameday:
    """`alertdrill gameday ...` in a process of its own; every line it prints is kept and handed on."""

    def __init__(self, artifacts: Path, *options: str, tell=None) -> None:
        cmd = [sys.executable, "-m", "alertdrill.cli", "gameday", "RedisDisconnected[crashed]", "--remediate", "human",
               "--factor", "30", *options, "--", f"--drill-artifacts={artifacts}", "--drill-history=none"]
        self.artifacts, self.lines, self.tell = artifacts, [], tell
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.tell is not None:
                self.tell(line)

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()  # SIGTERM: the drill heals, as when CI cancels it
            self.proc.wait(120)
            raise
        self._reader.join(10)
        return code

    def output(self) -> str:
        return "\n".join(self.lines[-60:])

    def timeline(self) -> dict:
        path = self.artifacts / f"{STEM}.json"
        assert path.exists(), f"no timeline at {path}; the command printed:\n{self.output()}"
        return json.loads(path.read_text())


def person(ctx, command: str) -> subprocess.Popen:
    # The person types the runbook's commands as the stack's lane needs them (lane 0: as written).
    return subprocess.Popen([sys.executable, str(PERSON), "--when", "RedisDisconnected is FIRING",
                             "--then", ctx.stack.follow(command), "--cwd", str(PROJECT_ROOT)],
                            stdin=subprocess.PIPE, text=True, env={**os.environ, **ctx.stack.overrides})


def test_people_mitigate_RedisDisconnected_by_the_runbook(drill_context, tmp_path):
    commands = RunbookAction("RedisDisconnected", "stopped or crashed").commands(drill_context)
    on_call = person(drill_context, "\n".join(commands))

    def tell_the_person(line: str) -> None:
        try:
            on_call.stdin.write(line)
            on_call.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):  # the person has acted and left
            pass

    run = Gameday(tmp_path, "--max-drill-duration", "600", tell=tell_the_person)
    try:
        code = run.wait(timeout=900)
    finally:
        try:
            on_call.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        person_rc = on_call.wait(timeout=120)
    assert code == 0, f"alertdrill gameday exited {code}:\n{run.output()}"
    assert person_rc == 0, f"the person's runbook command failed; the gameday printed:\n{run.output()}"
    t = run.timeline()
    assert t["outcome"] == "passed" and t["remediate"] == "human", t.get("error")
    assert t["time_to_mitigate"] is not None and t["time_to_mitigate"] > 0, [e["name"] for e in t["events"]]
    assert t["actions"] and t["actions"][0]["script"].startswith("people on call")


def test_nobody_answers_the_drill_aborts_at_its_maximum_duration_and_heals(drill_context, tmp_path):
    run = Gameday(tmp_path, "--max-drill-duration", f"{NOBODY_S:g}")
    code = run.wait(timeout=NOBODY_S + 300)
    assert code != 0, f"a drill nobody mitigated passed:\n{run.output()}"
    out = run.output()
    assert f"maximum duration of {NOBODY_S:g}s" in out or "nobody mitigated" in out, out
    assert "the faults are healed" in out, out
    state = drill_context.stack.state("redis")
    assert state.startswith("running"), f"redis not healed: {state}"
    t = run.timeline()
    names = [e["name"] for e in t["events"]]
    assert t["outcome"] == "aborted" and "aborted" in names and "firing" in names, names
    assert "mitigated" not in names
