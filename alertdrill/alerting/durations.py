"""Prometheus durations ("5m", "1h30m", "2500ms"): parsed to and formatted from whole milliseconds, the
unit every computation on them uses (exact, no float drift); `parse_s` for the few places that want
seconds."""
from __future__ import annotations

import re

_UNITS_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000,
             "m": 60_000, "s": 1000, "ms": 1}
_UNIT_ORDER = ("y", "w", "d", "h", "m", "s", "ms")
_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
# A duration inside an expression: one or more <digits><unit>, `ms` tried before `m`.
DURATION_PATTERN = r"(?:\d+(?:ms|y|w|d|h|m|s))+"


def parse_ms(text: str) -> int:
    """A Prometheus duration in milliseconds: parse_ms("1m30s") == 90000."""
    s = str(text).strip()
    m = _DURATION_RE.match(s)
    if not s or not m or not any(m.groups()):
        raise ValueError(f"not a Prometheus duration: {text!r} (expected e.g. 30s, 5m, 1h30m, 2500ms)")
    return sum(int(v) * _UNITS_MS[u] for v, u in zip(m.groups(), _UNIT_ORDER) if v)


def parse_s(text: str) -> float:
    """A Prometheus duration in seconds: parse_s("250ms") == 0.25."""
    return parse_ms(text) / 1000


def format_ms(ms: int) -> str:
    """Milliseconds as a Prometheus duration, largest units first: 90000 -> "1m30s", 2500 -> "2s500ms"."""
    ms = int(ms)
    if ms < 0:
        raise ValueError(f"negative duration: {ms}ms")
    if ms == 0:
        return "0s"
    out = []
    for unit in _UNIT_ORDER:
        size = _UNITS_MS[unit]
        if ms >= size:
            n, ms = divmod(ms, size)
            out.append(f"{n}{unit}")
    return "".join(out)
