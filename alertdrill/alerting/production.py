"""Production's own pipeline settings against the runbook's: the scrape and evaluation intervals the
Prometheus configuration really runs with. The drills set their own (compressed) intervals, so only this
check sees a production evaluation interval moved from 15 s to 1 m; deadlines never come from the
configuration under test (alertdrill.alerting.timings), so the configuration must equal the runbook.

    interval_problems(yaml.safe_load(prometheus_yml), promises)  # [] when production keeps the promise
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from alertdrill.alerting.durations import format_ms, parse_ms

if TYPE_CHECKING:
    from alertdrill.runbook.promises import Promises

PROMETHEUS_DEFAULT_MS = 60_000  # Prometheus' own default for both intervals when the file says nothing


def interval_problems(config: dict, promises: "Promises") -> list[str]:
    """Each place the configuration's intervals differ from the runbook's pipeline table (its global
    scrape and evaluation intervals, and any job's own scrape_interval), one line each."""
    glob = config.get("global") or {}
    scrape = parse_ms(str(glob.get("scrape_interval", format_ms(PROMETHEUS_DEFAULT_MS))))
    evaluation = parse_ms(str(glob.get("evaluation_interval", format_ms(PROMETHEUS_DEFAULT_MS))))
    out = []
    if scrape != promises.scrape_ms:
        out.append(f"global scrape_interval is {format_ms(scrape)}; the runbook promises {format_ms(promises.scrape_ms)}")
    if evaluation != promises.evaluation_ms:
        out.append(f"global evaluation_interval is {format_ms(evaluation)}; the runbook promises "
                   f"{format_ms(promises.evaluation_ms)}")
    for job in config.get("scrape_configs") or []:
        own = job.get("scrape_interval")
        if own is not None and parse_ms(str(own)) != promises.scrape_ms:
            out.append(f"job {job.get('job_name')} scrapes every {own}; the runbook promises "
                       f"{format_ms(promises.scrape_ms)}")
    return out


def with_defaults(template: str, defaults: dict[str, str]) -> str:
    """A configuration template (${VAR} placeholders, as envsubst fills them) with the values it gets when
    nobody sets them; a placeholder with no default is left as it is."""
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), template)


def compose_defaults(service: dict) -> dict[str, str]:
    """A compose service's environment defaults: `NAME: ${NAME:-15s}` -> {"NAME": "15s"}."""
    out = {}
    for name, value in (service.get("environment") or {}).items():
        m = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(value))
        out[name] = m.group(1) if m else str(value)
    return out
