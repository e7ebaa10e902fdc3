"""Interrupts: SIGTERM and SIGHUP (what a CI runner sends when it cancels or times out a job) stop a run
the way Ctrl-C does, so faults heal and the stack is torn down or left steady; and a second interrupt
while that cleanup runs cannot cut it short.

`install()` makes SIGTERM/SIGHUP raise `Interrupted` (a KeyboardInterrupt, so pytest and the drill treat
it exactly like Ctrl-C). `shielded()` wraps cleanup: an interrupt that arrives inside it is recorded and
announced, not raised (every heal still verifies that it worked, so none is shortened); when the shield
ends without another error in flight, the interrupt is raised then, so the run still stops.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

SIGNALS = (signal.SIGTERM, signal.SIGHUP)
SHIELDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A termination signal, raised where Python was when it arrived."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def describe(exc: BaseException) -> str:
    """What stopped the run, in words: 'SIGTERM', 'Ctrl-C (SIGINT)'."""
    if isinstance(exc, Interrupted):
        return exc.name
    return "Ctrl-C (SIGINT)"


_previous: dict[int, object] = {}
_state = {"depth": 0, "pending": None}
_announce: list[Callable[[str], None]] = [lambda line: print(line, file=sys.stderr, flush=True)]


def _raise(signum: int, frame) -> None:
    raise Interrupted(signum)


def install(announce: Callable[[str], None] | None = None) -> None:
    """SIGTERM and SIGHUP raise Interrupted from now on (main thread only; idempotent), unless the
    process was started with the signal ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    if announce is not None:
        _announce[0] = announce
    for sig in SIGNALS:
        current = signal.getsignal(sig)
        if current is signal.SIG_IGN or sig in _previous:
            continue  # ignored on purpose (nohup, a background job) stays ignored
        _previous[sig] = current
        signal.signal(sig, _raise)


def uninstall() -> None:
    for sig, handler in _previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]
    _previous.clear()


def _defer(signum: int, frame) -> None:
    _state["pending"] = _state["pending"] or signum
    _announce[0](f"alertdrill: {signal.Signals(signum).name} received while healing: the remaining heals and "
                 "the teardown still run to the end; only a SIGKILL would stop them (and leave the stack broken)")


@contextmanager
def shielded() -> Iterator[None]:
    """Run the block to its end whatever interrupt arrives; then raise the interrupt, if one came and no
    other error is on its way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer = _state["depth"] == 0
    saved = {}
    if outer:
        saved = {sig: signal.getsignal(sig) for sig in SHIELDED}
        for sig in SHIELDED:
            signal.signal(sig, _defer)
    _state["depth"] += 1
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        _state["depth"] -= 1
        if outer:
            for sig, handler in saved.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]
            pending, _state["pending"] = _state["pending"], None
            if pending is not None and not failed:
                if pending == signal.SIGINT:
                    raise KeyboardInterrupt
                raise Interrupted(pending)
