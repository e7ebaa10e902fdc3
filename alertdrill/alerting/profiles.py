"""Stack profiles: production timings (the files under stack/ as they are), or a drill's
time-compressed copy of the rules and Alertmanager timers with Prometheus scraping and evaluating
every second (rendered by alertdrill.timescale)."""
from __future__ import annotations

from pathlib import Path

from alertdrill.project import STATE_DIR
from alertdrill.alerting.timescale import DEFAULT_FACTOR, render_drill_config

__all__ = ["DEFAULT_FACTOR", "drill_dir", "drill_overrides"]


def drill_dir(factor: float) -> Path:
    return STATE_DIR / f"drill-x{factor:g}"


def drill_overrides(factor: float) -> dict[str, str]:
    """Render the compressed configuration and return the compose variables that mount it."""
    return render_drill_config(factor, drill_dir(factor)).env
