"""No containers: SIGTERM and SIGHUP stop a run like Ctrl-C; a second interrupt cannot cut cleanup short;
a command past its timeout is stopped with its whole process group."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from alertdrill import interrupts, proc

ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int, within_s: float = 5.0) -> bool:
    """The process has exited (a zombie waiting for init to reap it counts as exited)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


@contextmanager
def as_started_with(handlers: dict):
    """interrupts.install() in a process started with these handlers; the plugin's own installation (this
    pytest run's) is put back afterwards."""
    plugin_previous = dict(interrupts._previous)
    saved = {sig: signal.getsignal(sig) for sig in (*interrupts.SIGNALS, signal.SIGINT)}
    interrupts._previous.clear()
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    try:
        interrupts.install(lambda line: None)
        yield
    finally:
        interrupts.uninstall()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        interrupts._previous.update(plugin_previous)


FOREGROUND = {signal.SIGTERM: signal.SIG_DFL, signal.SIGHUP: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler}


@pytest.fixture
def installed():
    # As a foreground run starts (a background job or nohup may have started this one with some ignored).
    with as_started_with(FOREGROUND):
        yield


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_termination_signal_raises_like_ctrl_c(installed, sig):
    with pytest.raises(KeyboardInterrupt) as caught:
        os.kill(os.getpid(), sig)
        time.sleep(1)  # the handler runs at the next bytecode; never reached
    assert isinstance(caught.value, interrupts.Interrupted)
    assert interrupts.describe(caught.value) == sig.name


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_during_cleanup_lets_it_finish_then_stops_the_run(installed, sig):
    steps = []
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with interrupts.shielded():
            steps.append("first heal")
            os.kill(os.getpid(), sig)
            time.sleep(0.2)
            steps.append("second heal")  # still runs
    assert steps == ["first heal", "second heal"]
    # the shield is gone: the handlers are back
    assert signal.getsignal(signal.SIGINT) is before


def test_an_error_inside_the_shield_is_not_replaced_by_the_interrupt(installed):
    with pytest.raises(RuntimeError, match="heal failed"):
        with interrupts.shielded():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
            raise RuntimeError("heal failed")


def test_a_signal_ignored_at_start_stays_ignored():
    with as_started_with({**FOREGROUND, signal.SIGHUP: signal.SIG_IGN}):
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN  # nohup's promise holds
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # the other one is handled


def test_nested_shields_raise_once_at_the_outer_end(installed):
    with pytest.raises(KeyboardInterrupt):
        with interrupts.shielded():
            with interrupts.shielded():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.1)
            reached = True
    assert reached


def test_a_command_past_its_timeout_is_stopped_with_its_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    # bash starts a grandchild (as `docker compose` under a runbook's bash would) and waits on it
    script = f"sleep 300 & echo $! > {pidfile}; wait"
    with pytest.raises(subprocess.TimeoutExpired):
        proc.run(["bash", "-c", script], timeout=1)
    grandchild = int(pidfile.read_text())
    assert gone(grandchild), f"the runbook's child {grandchild} outlived the timeout"


def test_a_child_that_ignores_sigterm_is_killed(tmp_path):
    pidfile = tmp_path / "child.pid"
    script = f"(trap '' TERM; sleep 300) & echo $! > {pidfile}; wait"
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        proc.run(["bash", "-c", script], timeout=1)
    assert gone(int(pidfile.read_text())), "the child that ignores SIGTERM outlived the timeout"
    assert time.monotonic() - started < 1 + proc.GRACE_S + 5


def test_sigterm_to_a_pytest_run_heals_and_reports_aborted(tmp_path):
    """End to end without containers: a pytest run whose test holds a 'fault' gets SIGTERM; the fault's
    cleanup runs to the end even though a second signal arrives during it."""
    marker = tmp_path / "healed"
    test = tmp_path / "test_victim.py"
    test.write_text(textwrap.dedent(f"""
        import os, signal, time
        from alertdrill import interrupts

        def test_victim():
            try:
                print("READY", flush=True)
                time.sleep(60)
            finally:
                with interrupts.shielded():
                    os.kill(os.getpid(), signal.SIGTERM)  # the second interrupt, during healing
                    time.sleep(0.5)
                    open({str(marker)!r}, "w").write("yes")
    """))
    p = subprocess.Popen([sys.executable, "-m", "pytest", str(test), "-s", "-q", "-p", "no:cacheprovider",
                          f"--rootdir={tmp_path}", "-o", "testpaths=", f"--alertdrill-config={ROOT / 'pyproject.toml'}"],
                         cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        if "READY" in line:
            break
    p.send_signal(signal.SIGTERM)
    out = p.stdout.read()
    assert p.wait(30) != 0
    assert marker.read_text() == "yes", out
    assert "Interrupted: SIGTERM" in out, out
