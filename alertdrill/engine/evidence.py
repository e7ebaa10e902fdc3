"""Investigation: run the runbook's own queries and commands and check they show the evidence."""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import psycopg

from alertdrill.target.clients import PrometheusClient
from alertdrill.errors import DrillError
from alertdrill.runbook.queries import runbook_queries
from alertdrill.runbook.parse import parse_runbook
from alertdrill.alerting.timescale import scale_expr


class InvestigationFailed(DrillError):
    """The runbook's investigation step did not show what the fault should have caused."""


def runbook_query(runbook: Path, alert: str, contains: str, factor: float = 1) -> str:
    """The PromQL of the runbook's investigation for `alert` whose text contains `contains`, its range
    windows compressed by the drill's factor: the runbook's [5m] written for production would, at x30,
    look back over ten drill-minutes and see the previous drills' faults."""
    section = parse_runbook(runbook).section(alert)
    queries = [q for b in section.investigation_blocks for q in runbook_queries(b.text)]
    for q in queries:
        if contains in q:
            return scale_expr(q, factor) if factor != 1 else q
    raise InvestigationFailed(f"the runbook's {alert} investigation has no query with {contains!r}",
                              seen="its queries: " + ("; ".join(queries) or "none"),
                              hint=f"add the query to the {alert} section of {runbook}")


def top_label(prom: PrometheusClient, expr: str, label: str, expected: str, *, within: int = 1,
              above: float | None = None) -> str:
    """`expected` is among the `within` highest series of `expr` (by `label`), above `above` if given."""
    samples = sorted((s for s in prom.query(expr) if s.value == s.value), key=lambda s: -s.value)
    shown = ", ".join(f"{s.labels.get(label, '?')}={s.value:.3g}" for s in samples[:5]) or "no data"
    top = [s for s in samples[:within] if s.labels.get(label) == expected and (above is None or s.value > above)]
    if not top:
        where = "first" if within == 1 else f"among the top {within}"
        raise InvestigationFailed(f"the runbook's query does not point at {label}={expected}",
                                  expected=f"{expected} {where} in {expr}" + (f", above {above:g}" if above else ""),
                                  seen=shown)
    return f"{expr} -> {shown}"


def value_above(prom: PrometheusClient, expr: str, threshold: float) -> str:
    value = prom.value(expr)
    if value is None or value <= threshold:
        raise InvestigationFailed(f"{expr} does not show the evidence", expected=f"> {threshold:g}",
                                  seen=f"{value}")
    return f"{expr} = {value:.3g}"


def logs_show(container: str, since: float, *patterns: str, min_lines: int = 1) -> str:
    """`docker logs <container> --since ...` has lines matching every pattern (as the runbook greps)."""
    proc = subprocess.run(["docker", "logs", container, "--since", str(int(since))],
                          capture_output=True, text=True, timeout=30)
    lines = (proc.stdout + proc.stderr).splitlines()
    hits = [l for l in lines if all(re.search(p, l) for p in patterns)]
    if len(hits) < min_lines:
        raise InvestigationFailed(f"docker logs {container} has no line matching {' and '.join(patterns)}",
                                  seen=f"{len(lines)} lines since the fault; last: {lines[-1:] or 'none'}")
    return f"{len(hits)} log lines like: {hits[-1][:160]}"


def sql_rows(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(check, timeout: float, poll: float = 1.0):
    """Retry an evidence check until it holds (evidence builds up over time), then return its result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except InvestigationFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(poll)
