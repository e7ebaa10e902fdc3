"""SIGINT and SIGTERM (what a CI runner sends on cancel or timeout) reach a running drill in each phase:
afterwards nothing is left behind (no toxic, no edited file, no table lock, no Locust process; no
container or volume, or, with --reuse-stack, a steady stack) and the next run of the same drill passes.

CI runs three cases (SIGTERM with the fault injected and no stack kept; Ctrl-C during the remediation on
a reused stack; Ctrl-C then SIGTERM while healing); `make reliability` runs every phase with both."""
from __future__ import annotations

import signal

import pytest

from tests.reliability.drillproc import PHASES, leftovers, run_drill

pytestmark = pytest.mark.stack

CI = {("SIGTERM", "fault injected", False), ("SIGINT", "remediation", True)}
# Own-stack cases first: the reused stack (a module fixture) is up from the first reuse case to the end.
CASES = sorted([(sig, phase, sig == "SIGINT") for phase in PHASES for sig in ("SIGINT", "SIGTERM")],
               key=lambda c: c[2])


def _cases(config) -> list:
    return [pytest.param(*c, id=f"{c[0]}-{c[1].replace(' ', '-')}-{'reuse' if c[2] else 'own-stack'}")
            for c in CASES if config.getoption("--all-phases") or c in CI]


def pytest_generate_tests(metafunc):
    if "case_reuse" in metafunc.fixturenames:
        metafunc.parametrize("sig,phase,case_reuse", _cases(metafunc.config))


def _interrupt_and_check(tmp_path, sigs: tuple[int, ...], phase: str, reuse: bool) -> None:
    first = run_drill(tmp_path / "interrupted", reuse=reuse, signals=sigs, trigger=PHASES[phase])
    assert first.signalled_at is not None, f"the drill ended before reaching {phase}:\n{first.output[-3000:]}"
    assert first.code != 0, f"an interrupted drill must not pass:\n{first.output[-3000:]}"
    assert first.timeline is not None and first.timeline["outcome"] == "aborted", first.output[-3000:]
    assert signal.Signals(sigs[0]).name in first.timeline["error"], first.timeline["error"]
    left = leftovers(stack_up=reuse)
    assert not left, (f"{'/'.join(signal.Signals(s).name for s in sigs)} at {first.signalled_at} left behind:\n"
                      + "\n".join(left) + "\n" + first.output[-3000:])
    again = run_drill(tmp_path / "next", reuse=reuse)
    assert again.code == 0, f"the next run of the drill failed:\n{again.output[-4000:]}"
    assert not leftovers(stack_up=reuse)


def test_interrupted_drill_leaves_nothing_behind(request, tmp_path, sig, phase, case_reuse):
    if case_reuse:
        request.getfixturevalue("running_stack")
    else:
        request.getfixturevalue("no_stack_yet")
    _interrupt_and_check(tmp_path, (getattr(signal, sig),), phase, case_reuse)


def test_a_second_interrupt_while_healing_does_not_skip_a_heal(running_stack, tmp_path):
    _interrupt_and_check(tmp_path, (signal.SIGINT, signal.SIGTERM), "firing", True)
