"""Investigation: run the runbook's own queries and commands and check they show the evidence.

A new investigation check goes here: a function that returns the evidence as text or raises
InvestigationFailed (alertdrill.errors.require_evidence).
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from typing import TYPE_CHECKING, Callable, TypeVar

import psycopg

from alertdrill.errors import InvestigationFailed, NotInhibited, require, require_evidence
from alertdrill.project import PROJECT_ROOT
from alertdrill.runbook.queries import runbook_queries
from alertdrill.target.clients import PrometheusClient
from alertdrill.wait import until
from alertdrill.proc import run as proc_run

if TYPE_CHECKING:
    from alertdrill.engine.context import DrillContext

T = TypeVar("T")

__all__ = ["InvestigationFailed", "runbook_query", "runbook_command", "top_label", "value_above", "logs_show",
           "sql_rows", "wait_for", "require_evidence", "inhibited", "wait_inhibited", "runbook_sql"]


def runbook_query(ctx: "DrillContext", alert: str, contains: str) -> str:
    """The PromQL of the runbook's investigation for `alert` whose text contains `contains`, its range
    windows compressed by the drill's factor: the runbook's [5m] written for production would, at x30,
    look back over ten drill-minutes and see the previous drills' faults."""
    section = _section(ctx, alert)
    queries = [q for b in section.investigation_blocks for q in runbook_queries(b.text)]
    for q in queries:
        if contains in q:
            return ctx.timings.scale_expr(q)
    raise InvestigationFailed(f"the runbook's {alert} investigation has no query with {contains!r}",
                              seen="its queries: " + ("; ".join(queries) or "none"),
                              hint=f"add the query to the {alert} section of {ctx.runbook.path}")


def top_label(prom: PrometheusClient, expr: str, label: str, expected: str, *, within: int = 1,
              above: float | None = None) -> str:
    """`expected` is among the `within` highest series of `expr` (by `label`), above `above` if given."""
    samples = sorted((s for s in prom.query(expr) if s.value == s.value), key=lambda s: -s.value)
    shown = ", ".join(f"{s.labels.get(label, '?')}={s.value:.3g}" for s in samples[:5]) or "no data"
    top = [s for s in samples[:within] if s.labels.get(label) == expected and (above is None or s.value > above)]
    where = "first" if within == 1 else f"among the top {within}"
    require_evidence(bool(top), f"the runbook's query does not point at {label}={expected}",
                     expected=f"{expected} {where} in {expr}" + (f", above {above:g}" if above else ""), seen=shown)
    return f"{expr} -> {shown}"


def value_above(prom: PrometheusClient, expr: str, threshold: float) -> str:
    value = prom.value(expr)
    require_evidence(value is not None and value > threshold, f"{expr} does not show the evidence",
                     expected=f"> {threshold:g}", seen=f"{value}")
    return f"{expr} = {value:.3g}"


def logs_show(ctx: "DrillContext", container: str, since: float, *patterns: str, min_lines: int = 1) -> str:
    """`docker logs <container> --since ...` has lines matching every pattern (as the runbook greps)."""
    lines = ctx.stack.logs(container, since=since).splitlines()
    hits = [l for l in lines if all(re.search(p, l) for p in patterns)]
    require_evidence(len(hits) >= min_lines, f"docker logs {container} has no line matching {' and '.join(patterns)}",
                     expected=f">= {min_lines} matching lines",
                     seen=f"{len(lines)} lines since the fault; last: {lines[-1:] or 'none'}")
    return f"{len(hits)} log lines like: {hits[-1][:160]}"


def sql_rows(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(check: Callable[[], T], timeout: float, poll: float = 1.0) -> T:
    """Retry an evidence check until it holds (evidence builds up over time), then return its result."""
    return until(check, timeout, poll=poll, retry_on=(InvestigationFailed,))


def inhibited(ctx: "DrillContext", source: str, labels: dict[str, str]) -> str:
    """Every alert the runbook says `source` inhibits, for the same `equal` labels (taken from
    `labels`), is active in Alertmanager and inhibited (the end-to-end proof of the inhibit rule)."""
    shown = []
    for inh in ctx.promises.alert(source).inhibits:
        want = {k: labels[k] for k in inh.equal}
        in_am = [a for a in ctx.alertmanager.alerts() if a["labels"].get("alertname") == inh.target]
        held = [a for a in in_am if all(a["labels"].get(k) == v for k, v in want.items())]
        in_prom = [f"{a.state} {a.labels}" for a in ctx.prometheus.alerts() if a.name == inh.target]
        require_evidence(bool(held), f"{inh.target} {want} has not reached Alertmanager",
                         expected=f"{inh.target} active and inhibited by {source}",
                         seen=f"in Alertmanager: {[a['labels'] for a in in_am] or 'none'}; "
                              f"in Prometheus: {in_prom or 'none'}")
        by = [a for a in held if a["status"].get("inhibitedBy")]
        require(bool(by), f"{inh.target} {want} is active but not inhibited",
                expected=f"inhibitedBy {source} (the runbook's inhibition)",
                seen="; ".join(str(a["status"]) for a in held), error=NotInhibited)
        shown.append(f"{inh.target}{want} {by[0]['status']['state']}, inhibited by {len(by[0]['status']['inhibitedBy'])}")
    return "; ".join(shown) or f"{source} inhibits nothing"


def wait_inhibited(ctx: "DrillContext", source: str, labels: dict[str, str], timeout: float = 30) -> str:
    """inhibited(), waited for: up to `timeout` for each twin to reach Alertmanager (it fires after its
    own `for`), but a twin that is there and not inhibited fails once that has lasted the deadline margin
    (two evaluations and 2 s). The source already notified, and Alertmanager works inhibition out on every
    read of its API, so waiting longer would only put off the verdict on a broken inhibit rule."""
    settle = ctx.timings.deadline_margin_s
    seen: dict = {}

    def check() -> str | NotInhibited:
        try:
            return inhibited(ctx, source, labels)
        except NotInhibited as exc:
            if time.monotonic() - seen.setdefault("since", time.monotonic()) < settle:
                raise
            return exc  # final: returned, as until() retries every InvestigationFailed

    found = until(check, timeout, poll=1.0, retry_on=(InvestigationFailed,))
    if isinstance(found, NotInhibited):
        raise found
    return found


def _reached(ctx: "DrillContext", alert: str, labels: dict[str, str], since: float) -> tuple[set[str], set[str]]:
    """(the receivers the runbook names for `alert`, those its firing notices carrying `labels` reached)."""
    notes = [n for n in ctx.sink.notifications(alertname=alert, status="firing", since=since)
             if all(n.labels.get(k) == v for k, v in labels.items())]
    return set(ctx.promises.alert(alert).receivers), {n.receiver for n in notes}


def reached_for(ctx: "DrillContext", alert: str, labels: dict[str, str], since: float) -> str:
    """The alert, for another value of the labels it is routed by (`labels`, e.g. another route), reached
    every receiver the runbook names for it since `since`: the promise holds for every value, not only the
    drilled one. A route that sends one value elsewhere (or nowhere) is where a drill sees it."""
    want, got = _reached(ctx, alert, labels, since)
    require_evidence(want <= got, f"{alert} {labels} did not reach {sorted(want - got)}",
                     expected=f"{alert} {labels} notified to {sorted(want)}, as for every value of "
                              f"{', '.join(labels)}",
                     seen=f"notified: {sorted(got) or 'nobody'}")
    return f"{alert}{labels} reached {', '.join(sorted(got))}"


def notified_elsewhere(ctx: "DrillContext", source: str, labels: dict[str, str], since: float) -> str:
    """An inhibition is scoped to its `equal` labels: each alert `source` inhibits, carrying another value
    of them (`labels`, e.g. another endpoint), reached every receiver the runbook names for it since
    `since`, while `source` fires. An inhibit rule whose `equal` was widened (or emptied) silences every
    value, and this is where a drill sees it."""
    shown = []
    firing = [a for a in ctx.prometheus.alerts() if a.name == source and a.state == "firing"]
    require_evidence(bool(firing), f"{source} is not firing: nothing to be inhibited by",
                     expected=f"{source} firing", seen="inactive")
    for inh in ctx.promises.alert(source).inhibits:
        want, got = _reached(ctx, inh.target, labels, since)
        require_evidence(want <= got, f"{inh.target} {labels} did not reach {sorted(want - got)} while {source} "
                                      f"fired for another {', '.join(inh.equal)}",
                         expected=f"{inh.target} {labels} notified to {sorted(want)}: {source} inhibits it only "
                                  f"for the same {', '.join(inh.equal)}",
                         seen=f"notified: {sorted(got) or 'nobody'}; {source} firing: "
                              f"{[a.labels for a in firing]}")
        shown.append(f"{inh.target}{labels} reached {', '.join(sorted(got))}")
    return "; ".join(shown) or f"{source} inhibits nothing"


def runbook_command(ctx: "DrillContext", alert: str, contains: str, timeout: float = 30) -> str:
    """Run, as written, the runbook's investigation command for `alert` that contains `contains`, and
    return what it printed (stdout and stderr). Read-only commands only: the runbook's investigation is
    what an on-call engineer types first. A runbook without that command fails the drill, naming the
    section and the command it lacks."""
    section = _section(ctx, alert)
    commands = [c for b in section.investigation_blocks if b.is_shell for c in b.commands()]
    found = next((c for c in commands if contains in c), None)
    if found is None:
        raise InvestigationFailed(f"the runbook's {alert} investigation has no command with {contains!r}",
                                  seen="its commands: " + ("; ".join(commands) or "none"),
                                  hint=f"add it to the {alert} section (#{section.anchor}) of {ctx.runbook.path}")
    # As an engineer at a terminal would run it, minus the TTY a script does not have.
    script = ctx.stack.follow(found.replace("docker exec -it ", "docker exec "))
    try:
        proc = _bash(ctx, script, timeout)
    except subprocess.TimeoutExpired:
        raise InvestigationFailed(f"the runbook's command ran past {timeout:.0f}s and was stopped with its "
                                  "process group", seen=script) from None
    return (proc.stdout + proc.stderr).strip()


def runbook_sql(ctx: "DrillContext", alert: str, contains: str, timeout: float = 30) -> str:
    """Run, as written, the statement of the runbook's SQL investigation block for `alert` that contains
    `contains`, in the shell the block's first comment names (`-- docker exec -it postgres psql ...`),
    and return what psql printed. A block without that statement or without its shell fails the drill,
    naming the section."""
    section = _section(ctx, alert)
    hint = f"see the {alert} section (#{section.anchor}) of {ctx.runbook.path}"
    for block in (b for b in section.investigation_blocks if b.lang.lower() in ("sql", "psql")):
        lines = block.text.splitlines()
        shell = next((ln.strip()[2:].strip() for ln in lines if ln.strip().startswith("--") and "psql" in ln), None)
        body = "\n".join(ln for ln in lines if not ln.strip().startswith("--"))
        statement = next((s.strip() + ";" for s in body.split(";") if contains.lower() in s.lower()), None)
        if statement is None:
            continue
        if shell is None:
            raise InvestigationFailed(f"the runbook's {alert} SQL block has no `-- docker exec ... psql` line saying "
                                      "where to run it", seen=block.text, hint=hint)
        # As typed at a terminal, with stdin in place of the TTY a script does not have.
        script = ctx.stack.follow(shell.replace("docker exec -it ", "docker exec -i "))
        try:
            proc = _bash(ctx, script, timeout, input=statement + "\n")
        except subprocess.TimeoutExpired:
            raise InvestigationFailed(f"the runbook's SQL ran past {timeout:.0f}s and was stopped",
                                      seen=f"{script} <<< {statement}") from None
        if proc.returncode != 0:
            raise InvestigationFailed(f"the runbook's SQL failed ({proc.returncode})",
                                      seen=f"{script} <<< {statement}\n{proc.stderr.strip()[-500:]}", hint=hint)
        return proc.stdout
    raise InvestigationFailed(f"the runbook's {alert} investigation has no SQL statement with {contains!r}",
                              expected="a ```sql block under **Investigation** with that statement", hint=hint)


def _section(ctx: "DrillContext", alert: str):
    try:
        return ctx.runbook.section(alert)
    except KeyError as exc:
        raise InvestigationFailed(f"the runbook has no section for {alert}", seen=str(exc)) from None


def _bash(ctx: "DrillContext", script: str, timeout: float, input: str | None = None):
    """A runbook investigation script, run as an engineer would from the project root with the stack's
    compose variables; raises subprocess.TimeoutExpired after stopping its process group."""
    return proc_run(["bash", "-o", "pipefail", "-c", script], cwd=PROJECT_ROOT, timeout=timeout, input=input,
                    env={**os.environ, **ctx.stack.overrides})
