"""The one way to wait: `until(check, timeout, ...)`, in the spirit of testcontainers' wait strategies.

    value = until(lambda: prom.value(expr), timeout=30, progress=lambda left: report(f"{left:.0f}s left"))

`check` returns something truthy when the wait is over (that value is returned) and something falsy to
keep waiting. Exceptions it raises end the wait at once, except those listed in `retry_on`, which count
as "not yet" (the last one is re-raised when time runs out). On timeout `on_timeout()` is called and
its result returned: it normally raises the error that says what was expected and seen, or returns
for a wait that may simply end (a warm-up). Without it, WaitTimeout is raised.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A wait ran out of time and nobody said what that means."""


def until(check: Callable[[], T], timeout: float, *, poll: float = 0.5,
          progress: Callable[[float], None] | None = None, every: float = 2.0,
          retry_on: tuple[type[BaseException], ...] = (), on_timeout: Callable[[], T | None] | None = None,
          what: str = "the condition") -> T:
    deadline = time.monotonic() + timeout
    last_progress = float("-inf")
    while True:
        last_error: BaseException | None = None
        try:
            result = check()
        except retry_on as exc:
            result, last_error = None, exc
        if result:
            return result
        now = time.monotonic()
        if now >= deadline:
            if last_error is not None:
                raise last_error
            if on_timeout is not None:
                return on_timeout()  # type: ignore[return-value]
            raise WaitTimeout(f"{what} did not hold within {timeout:.0f}s")
        if progress is not None and now - last_progress >= every:
            last_progress = now
            progress(deadline - now)
        time.sleep(min(poll, max(0.0, deadline - now)))
