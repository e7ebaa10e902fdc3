"""The routing against the runbook: each alert, on the labels its rule really produces (and on every value
of a label the platform gives a domain), reaches the promised receivers in order with the promised timers,
at any hour when it pages (alertdrill.alerting.timeofweek), grouped by the promised labels; and amtool
agrees (`amtool check-config`, `amtool config routes test --verify.receivers`)."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alertdrill.adopt.check.model import Problem, Project, alert_rules, rule_labels
from alertdrill.alerting import routing, timeofweek

CHECK = "routing"
FIX = "change the routes (matchers, receivers, continue) in {am}, or the runbook's promise"


def grouping_labels(expr: str) -> set[str]:
    """Labels an alert expression keeps: those of its `by (...)` clauses (all of them, as a superset)."""
    found = set()
    for m in re.finditer(r"\bby\s*\(([^)]*)\)", expr):
        found |= {x.strip() for x in m.group(1).split(",") if x.strip() and x.strip() != "le"}
    return found


def domain_label(rule: dict, domains: dict[str, list[str]]) -> str | None:
    """The label of a domain the rule's alert is per (its `by (...)`), if any: every value of it must keep
    the promise."""
    found = sorted(grouping_labels(str(rule.get("expr", ""))) & set(domains))
    return found[0] if found else None


def labels_for_every_value(rule: dict, domains: dict[str, list[str]]) -> list[dict[str, str]]:
    """The labels an alert of `rule` carries, once per value of its domain label (or once, without one)."""
    label = domain_label(rule, domains)
    base = rule_labels(rule)
    return [{**base, label: v} for v in domains[label]] if label else [base]


def routing_promise_problems(am: dict, rules: dict, promised, domains: dict[str, list[str]] | None = None,
                             where: str = "alertmanager.yml") -> list[Problem]:
    """Where the routing breaks the runbook's promises: receivers (in order, for every value of a domain
    label), every delivering route's timers, the grouping labels, and pages at any hour."""
    domains = domains or {}
    promise = f"(the runbook: {promised.source})"
    fix = FIX.format(am=where)
    by_name = alert_rules(rules)
    paging = {a: rule_labels(r) for a, r in by_name.items()
              if a in promised.alerts and promised.alerts[a].severity in promised.paged}
    out = [Problem(CHECK, f"{where} {line.split(':')[0]}", f"pages at any hour {promise}", line.split(": ", 1)[1],
                   f"remove the route's mute/active time intervals, or {fix}")
           for line in timeofweek.paging_silences(am, paging)]
    root_group_by = list((am.get("route") or {}).get("group_by") or [])
    if root_group_by != list(promised.group_by):
        out.append(Problem(CHECK, f"{where} route.group_by", f"group_by {list(promised.group_by)} {promise}",
                           f"group_by {root_group_by}", "make route.group_by the runbook's grouping labels"))
    for alert, p in promised.alerts.items():
        if alert not in by_name:
            continue
        for labels in labels_for_every_value(by_name[alert], domains):
            got = [r for r, _t in routing.delivering_routes(am, labels)]
            if got != list(p.receivers):
                out.append(Problem(CHECK, f"{where} {alert} {labels}", f"receivers {list(p.receivers)} {promise}",
                                   f"delivered to {got}", fix))
        out += _timer_problems(am, alert, by_name[alert], promised, where)
    return out


def _timer_problems(am: dict, alert: str, rule: dict, promised, where: str) -> list[Problem]:
    out = []
    for receiver, timers in routing.delivering_routes(am, rule_labels(rule)):
        if receiver not in promised.timers:
            continue
        want = promised.timers[receiver]
        for name, value in (("group_wait", want.group_wait_ms), ("group_interval", want.group_interval_ms),
                            ("repeat_interval", want.repeat_interval_ms)):
            if timers[name] != value:
                out.append(Problem(CHECK, f"{where} {alert} -> {receiver}",
                                   f"{name} {value} ms (the runbook's notification timing, {receiver})",
                                   f"{name} {timers[name]} ms on the route that delivers it",
                                   f"set {name} on that route (or its parent), or change the runbook's timing table"))
    return out


def promise_problems(project: Project) -> list[Problem]:
    if project.promises is None or not project.am.get("route"):
        return []
    return routing_promise_problems(project.am, project.rules, project.promises, project.domains,
                                    project.rel(project.conf.alertmanager))


def route_check(amtool, am_path: Path, labels: dict[str, str], receivers: list[str]) -> tuple[bool, str]:
    """amtool config routes test --verify.receivers: (ok, what amtool resolved)."""
    p = amtool.run("config", "routes", "test", f"--config.file={am_path}",
                   f"--verify.receivers={','.join(receivers)}",
                   *[f"{k}={v}" for k, v in sorted(labels.items())])
    got = (p.stdout.strip().splitlines() or [""])[0]
    return p.returncode == 0, got


def run_parallel(fn, items: list, workers: int = 4) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def amtool_problems(project: Project) -> list[Problem]:
    """`amtool check-config`, then `amtool config routes test --verify.receivers` for every promised
    alert on the labels its rule produces (and every value of its domain label)."""
    from alertdrill.alerting import promtools

    am = project.rel(project.conf.alertmanager)
    try:
        amtool = promtools.amtool()
    except promtools.ToolNotFound as exc:
        return [Problem("amtool", am, "amtool check-config and routes test", "amtool is not installed", str(exc),
                        not_checked=True)]
    p = amtool.run("check-config", project.conf.alertmanager)
    if p.returncode != 0:
        return [Problem("amtool", am, "a configuration amtool check-config accepts",
                        " ".join((p.stdout + p.stderr).split())[-400:], "fix what amtool names")]
    if project.promises is None:
        return []
    by_name = alert_rules(project.rules)
    cases = [(a, labels, list(pr.receivers)) for a, pr in project.promises.alerts.items() if a in by_name
             for labels in labels_for_every_value(by_name[a], project.domains)]
    verdicts = run_parallel(lambda c: route_check(amtool, project.conf.alertmanager, c[1], c[2]), cases)
    return [Problem("amtool", f"{am} {alert} {labels}", f"receivers [{','.join(want)}] (amtool routes test)",
                    f"[{got}]", FIX.format(am=am)) for (alert, labels, want), (ok, got) in zip(cases, verdicts) if not ok]
