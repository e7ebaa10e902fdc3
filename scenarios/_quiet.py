"""What the quiet drills share: the server-fault counter that benign noise must not move, and the check
that the noise itself landed (a quiet drill whose noise never reached the platform proves nothing)."""
from __future__ import annotations

from alertdrill.errors import InvariantViolated
from alertdrill.wait import until

# errors_total is what CriticalErrorRate and HighErrorRate read: a server fault, never a client's doing.
SERVER_ERRORS = {"errors_total": "sum(errors_total)"}


def counted(ctx, expr: str) -> float:
    """A counter's sum as Prometheus last scraped it (0 when nothing was counted yet)."""
    return ctx.prometheus.value(expr) or 0.0


def rose_by(ctx, expr: str, before: float, want: float, what: str, *, timeout: float = 15) -> str:
    """`expr` rose by exactly `want` from `before` (waiting for the scrapes that show it): the platform saw
    every piece of the noise, once."""
    seen = {"now": before}

    def landed() -> bool:
        seen["now"] = counted(ctx, expr)
        return seen["now"] - before >= want

    until(landed, timeout, poll=0.5, on_timeout=lambda: None)
    rose = seen["now"] - before
    if rose != want:
        raise InvariantViolated(f"{what}: {expr} rose by {rose:g}, not {want:g}",
                                expected=f"{expr} up by {want:g}, once for each", seen=f"{before:g} -> {seen['now']:g}",
                                hint="did the noise reach the platform (its source address, its rate limit)?")
    return f"{expr} {before:g} -> {seen['now']:g} (+{rose:g}, one for each)"
