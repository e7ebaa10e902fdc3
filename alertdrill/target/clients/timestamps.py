"""RFC 3339 times as the Docker, Alertmanager and Prometheus APIs write them (nanoseconds, Z or an offset)."""
from __future__ import annotations

import re
from datetime import datetime


def epoch(stamp: str | None) -> float | None:
    """`stamp` as epoch seconds; None for no time or Go's zero time (0001-01-01...)."""
    if not stamp or stamp.startswith("0001-"):
        return None
    # datetime takes at most microseconds
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00")).timestamp()
