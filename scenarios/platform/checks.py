"""What steady means for the reference platform beyond healthy containers and /ready, named in
[tool.alertdrill] steady_checks and called with the drill context (alertdrill.target.health)."""
from __future__ import annotations

import httpx

from scenarios.platform.client import generator_url

# Signals the generator may hold in a steady stack: one a second, each in flight for milliseconds.
STEADY_BACKLOG = 3


def generator_caught_up(ctx) -> list[str]:
    """The signal generator holds no backlog: after an ingestion outage it is still sending what queued,
    and a drill started now would see its signals queue behind that."""
    try:
        backlog = httpx.get(f"{generator_url(ctx.endpoints)}/status", timeout=3).json()["backlog"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return [f"signal-generator /status unreadable: {exc!r}"]
    if backlog > STEADY_BACKLOG:
        return [f"signal-generator backlog {backlog} (still delivering what queued during an ingestion "
                "outage; a drill's signals would queue behind it)"]
    return []
