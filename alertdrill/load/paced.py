"""One small action repeated at a steady rate in a thread of its own, bounded in count and time: the noise
of a quiet drill (a client hanging up, a crawler's request) where a Locust load would be too much
machinery. A steady rate is what survives time compression: a rule's rate over a window compressed 30
times reads the same for a steady source, where a burst would read 30 times louder.

    hang_ups = d.alongside(Paced("hang-ups", lambda i: hang_up(...), per_second=1.9).start())
    ...
    hang_ups.outcomes  # Counter of what each call returned ("disconnected", "404", ...)

The action returns a short outcome word; an exception is counted as its type's name and kept, at most 20.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable


class Paced:
    def __init__(self, name: str, action: Callable[[int], str], *, per_second: float, max_seconds: float = 600,
                 max_count: int = 100_000, on_stop: Callable[[], object] | None = None) -> None:
        if per_second <= 0:
            raise ValueError(f"{name}: per_second={per_second!r} is invalid: expected a positive rate")
        self.name, self.action, self.per_second = name, action, per_second
        self.max_seconds, self.max_count, self.on_stop = max_seconds, max_count, on_stop
        self.outcomes: Counter[str] = Counter()
        self.errors: list[str] = []
        self.started: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"paced-{name}", daemon=True)

    def start(self) -> "Paced":
        self.started = time.monotonic()
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def count(self) -> int:
        return sum(self.outcomes.values())

    def stop(self) -> str:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if self.on_stop is not None:
            self.on_stop()
        return ""

    def describe(self) -> str:
        took = (time.monotonic() - self.started) if self.started else 0.0
        rate = self.count / took if took else 0.0
        seen = ", ".join(f"{k} x{v}" for k, v in self.outcomes.most_common()) or "nothing yet"
        return f"{self.name}: {self.count} in {took:.0f}s ({rate:.2f}/s): {seen}" + (
            f"; last error {self.errors[-1]}" if self.errors else "")

    def _run(self) -> None:
        # Scheduled from the start, not from the last call: a slow call is caught up, the rate stays.
        start, i = time.monotonic(), 0
        while not self._stop.is_set() and i < self.max_count and time.monotonic() - start < self.max_seconds:
            try:
                self.outcomes[self.action(i)] += 1
            except Exception as exc:  # noqa: BLE001 (counted and shown: the noise goes on)
                self.outcomes[type(exc).__name__] += 1
                if len(self.errors) < 20:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            i += 1
            self._stop.wait(max(0.0, start + i / self.per_second - time.monotonic()))
