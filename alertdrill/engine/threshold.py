"""A watched expression's threshold, as an expectation writes it ("== 0", "> 1", "<= 0.5"): its
number for the report's chart, and which side of it is healthy (the signal is "mitigated" when it is
back on that side)."""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass

_OPS = {"==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_RE = re.compile(r"^\s*(==|!=|>=|<=|>|<)\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Threshold:
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> "Threshold | None":
        """None for an empty or unreadable threshold (the chart then draws no line)."""
        m = _RE.match(text or "")
        return cls(m.group(1), float(m.group(2))) if m else None

    def breached(self, value: float | None) -> bool:
        """The value is on the alerting side ("no data" counts as breached for `== 0`-style rules
        only when the series is absent, which the caller decides: None is never healthy here)."""
        return value is None or _OPS[self.op](value, self.value)

    def healthy(self, value: float | None) -> bool:
        return value is not None and not _OPS[self.op](value, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"
