"""One undo stack for everything a drill starts or changes on purpose: a fault (healed), a guard's
snapshot (restored), a load or background traffic (stopped). The drill plays it in reverse when it ends,
always, under the interrupt shield (alertdrill.engine.drill); a scenario may end one item early
(`Drill.end(item)`), and that item is then off the stack. Like chaostoolkit's rollbacks: one list, every
entry run even when an earlier one fails, every failure reported at the end."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class Step:
    what: Any  # the fault, guard, load or traffic itself: how a scenario names it to end it early
    kind: str  # fault | guard | load | traffic
    name: str
    undo: Callable[[], Any]


class UndoStack:
    def __init__(self) -> None:
        self._steps: list[Step] = []

    def push(self, what: Any, kind: str, name: str, undo: Callable[[], Any]) -> Any:
        self._steps.append(Step(what, kind, name, undo))
        return what

    def items(self, kind: str) -> list[Any]:
        return [s.what for s in self._steps if s.kind == kind]

    def end(self, what: Any) -> Any:
        """Undo `what` now, out of order, and take it off the stack; its undo's result (a heal's line,
        a load's statistics). KeyError if the drill never registered it."""
        step = next((s for s in self._steps if s.what is what), None)
        if step is None:
            raise KeyError(f"{what!r} is not on the drill's undo stack: register it with inject, guard, workload "
                           "or alongside first")
        self._steps.remove(step)
        return step.undo()

    def unwind(self, report: Callable[[str], None]) -> list[str]:
        """Undo everything, newest first; keep going past a failure. Returns what could not be undone."""
        errors = []
        while self._steps:
            step = self._steps.pop()
            try:
                done = step.undo()
                if isinstance(done, str) and done:
                    report(f"  healed: {done}")
            except Exception as exc:  # noqa: BLE001 (keep undoing the others)
                errors.append(f"{step.kind} {step.name}: {exc}")
        return errors
