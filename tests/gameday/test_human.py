"""`--remediate human` against the stack: the drill injects the fault, announces the alert firing and
prints the runbook; a scripted person (tests/gameday/person.py, a separate process reading the drill's
output) runs the runbook's command. With the person the drill passes and its timeline holds the time
to mitigate; without, it is aborted at its maximum duration and the fault is healed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alertdrill.engine.remediations import RunbookAction
from alertdrill.errors import DrillAborted
from alertdrill.project import PROJECT_ROOT

from scenarios import test_redis_disconnected as redis_drill

pytestmark = pytest.mark.drill

PERSON = Path(__file__).with_name("person.py")
# The drill's maximum duration when nobody answers: room for steady state (about 5 s after a drill that
# passed; up to ~31 s after one that failed, while Alertmanager sends the resolved notices it left) and
# RedisDisconnected firing (about 5 s at x30), so the abort comes while the drill waits for a person.
NOBODY_S = 60.0


def person(ctx, command: str) -> subprocess.Popen:
    # The person types the runbook's commands as the stack's lane needs them (lane 0: as written).
    return subprocess.Popen([sys.executable, str(PERSON), "--when", "RedisDisconnected is FIRING",
                             "--then", ctx.stack.follow(command),
                             "--cwd", str(PROJECT_ROOT)], stdin=subprocess.PIPE, text=True,
                            env={**os.environ, **ctx.stack.overrides})


def test_people_mitigate_RedisDisconnected_by_the_runbook(drill, drill_context):
    commands = RunbookAction("RedisDisconnected", "stopped or crashed").commands(drill_context)
    on_call = person(drill_context, "\n".join(commands))
    ctx = drill_context.with_gameday(remediate="human", max_drill_s=600.0)
    shown = ctx.reporter

    def tell_the_person(line: str) -> None:
        shown(line)
        try:
            on_call.stdin.write(line + "\n")
            on_call.stdin.flush()
        except (BrokenPipeError, ValueError):  # the person has acted and left
            pass

    ctx.reporter = tell_the_person
    try:
        d = drill(redis_drill.run, redis_drill.EXPECTATION, ctx=ctx)
    finally:
        try:
            on_call.stdin.close()
        except BrokenPipeError:
            pass
        person_rc = on_call.wait(timeout=120)
    assert person_rc == 0, "the person's runbook command failed"
    t = d.timeline
    assert t.outcome == "passed" and t.remediate == "human"
    assert t.time_to_mitigate is not None and t.time_to_mitigate > 0, [e.name for e in t.events]
    assert t.actions and t.actions[0]["script"].startswith("people on call")


def test_nobody_answers_the_drill_aborts_at_its_maximum_duration_and_heals(drill, drill_context):
    ctx = drill_context.with_gameday(remediate="human", max_drill_s=NOBODY_S)
    with pytest.raises(DrillAborted, match=f"maximum duration of {NOBODY_S:g}s|nobody mitigated") as caught:
        drill(redis_drill.run, redis_drill.EXPECTATION, ctx=ctx)
    assert "the faults are healed" in str(caught.value)
    assert ctx.docker.running("redis"), f"redis not healed: {ctx.docker.state('redis')}"
    t = ctx.timelines[-1]
    assert t.outcome == "aborted" and t.first("aborted") is not None and t.first("firing") is not None
    assert t.first("mitigated") is None
