"""Prometheus durations in seconds (the parser itself lives in alertdrill.timescale)."""
from __future__ import annotations

from alertdrill.alerting.timescale import parse_duration as _milliseconds


def parse_duration(text: str | int | float) -> float:
    """Seconds in a Prometheus duration ("5m", "1h30m", "250ms"); numbers are taken as seconds already."""
    if isinstance(text, (int, float)):
        return float(text)
    return _milliseconds(text) / 1000
