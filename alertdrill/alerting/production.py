"""Production's own pipeline settings against the runbook's: the scrape and evaluation intervals the
Prometheus configuration really runs with. The drills set their own (compressed) intervals, so only this
check sees a production evaluation interval moved from 15 s to 1 m; deadlines never come from the
configuration under test (alertdrill.alerting.timings), so the configuration must equal the runbook.

    interval_problems(yaml.safe_load(prometheus_yml), promises)  # [] when production keeps the promise
    file_problems(config.prometheus, promises)                     # the same, each line naming the file
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from alertdrill.alerting.durations import format_ms, parse_ms

if TYPE_CHECKING:
    from alertdrill.runbook.promises import Promises

PROMETHEUS_DEFAULT_MS = 60_000  # Prometheus' own default for both intervals when the file says nothing


def interval_mismatches(config: dict, promises: "Promises") -> list[tuple[str, str]]:
    """Each place the configuration's intervals differ from the runbook's pipeline table (its global
    scrape and evaluation intervals, and any job's own scrape_interval): (what it is, what the runbook
    promises)."""
    glob = config.get("global") or {}
    scrape = parse_ms(str(glob.get("scrape_interval", format_ms(PROMETHEUS_DEFAULT_MS))))
    evaluation = parse_ms(str(glob.get("evaluation_interval", format_ms(PROMETHEUS_DEFAULT_MS))))
    out = []
    if scrape != promises.scrape_ms:
        out.append((f"global scrape_interval is {format_ms(scrape)}", format_ms(promises.scrape_ms)))
    if evaluation != promises.evaluation_ms:
        out.append((f"global evaluation_interval is {format_ms(evaluation)}", format_ms(promises.evaluation_ms)))
    for job in config.get("scrape_configs") or []:
        own = job.get("scrape_interval")
        if own is not None and parse_ms(str(own)) != promises.scrape_ms:
            out.append((f"job {job.get('job_name')} scrapes every {own}", format_ms(promises.scrape_ms)))
    return out


def interval_problems(config: dict, promises: "Promises") -> list[str]:
    """interval_mismatches, one line each."""
    return [f"{found}; the runbook promises {promised}" for found, promised in interval_mismatches(config, promises)]


def file_problems(path: Path, promises: "Promises") -> list[str]:
    """interval_problems of production's Prometheus file (the configured `prometheus`), each line naming
    the file. Its intervals are the only ones production runs: no compose variable or flag sets them."""
    return [f"{path}: {line}" for line in interval_problems(yaml.safe_load(path.read_text()) or {}, promises)]


def intervals(path: Path) -> tuple[str, str]:
    """Production's (scrape_interval, evaluation_interval), Prometheus' defaults where the file says nothing."""
    glob = (yaml.safe_load(path.read_text()) or {}).get("global") or {}
    default = format_ms(PROMETHEUS_DEFAULT_MS)
    return str(glob.get("scrape_interval", default)), str(glob.get("evaluation_interval", default))
