"""The rules against the runbook's alert index: every rule has a row and every row a rule, and each rule's
severity, threshold, window, `for` and routing labels are its row's."""
from __future__ import annotations

from typing import Callable

from alertdrill.adopt.check.model import Problem, Project, alert_rules
from alertdrill.alerting.comparison import split_threshold
from alertdrill.alerting.durations import format_ms, parse_ms

CHECK = "rules"


def index_problems(project: Project) -> list[Problem]:
    """A rule without a row in the alert index, a row without a rule."""
    promised = project.promises
    if promised is None:
        return []
    rules = alert_rules(project.rules)
    out = [Problem(CHECK, project.rule_where(a), f"a row for {a} in the runbook's alert index "
                   f"({project.rel(project.conf.runbook)})", "no such row",
                   f"add a row for {a} to the alert index (severity, threshold, window, for, receivers), or "
                   "remove the rule") for a in rules if a not in promised.alerts]
    out += [Problem(CHECK, project.index_row(a), f"an alerting rule named {a} in {', '.join(project.conf.rule_globs)}",
                    "no such rule", f"add the rule, or remove the row (or fix the name: the rules name "
                                    f"{', '.join(sorted(rules)) or 'no alert'})")
            for a in promised.alerts if a not in rules]
    return out


def promise_problems(project: Project) -> list[Problem]:
    """Each rule's severity, threshold, window, `for` and routing labels against its index row."""
    if project.promises is None:
        return []
    return rule_promise_problems(project.rules, project.promises, where=project.rule_where,
                                 promise_where=project.index_row, missing=False)  # index_problems names those


def rule_promise_problems(rules: dict, promised, only: str | None = None,
                          where: Callable[[str], str] = lambda a: a,
                          promise_where: Callable[[str], str] = lambda a: f"the alert index, row {a}",
                          missing: bool = True) -> list[Problem]:
    """Where the rules (a rules document) break the runbook's alert index (`promised`, Promises): severity,
    `for`, threshold, windows and routing labels, and promised alerts without a rule. One Problem per
    violation, naming both sides."""
    from alertdrill.alerting.timescale import range_windows

    out = []
    by_name = alert_rules(rules)
    for alert, p in promised.alerts.items():
        if only is not None and alert != only:
            continue
        rule = by_name.get(alert)
        if rule is None:
            if missing:
                out.append(Problem(CHECK, promise_where(alert), f"an alerting rule named {alert}", "no such rule",
                                   "add the rule, or remove the row"))
            continue
        ours = f"(the runbook: {promise_where(alert)})"

        def problem(what: str, want: str, got: str, fix: str) -> None:
            out.append(Problem(CHECK, where(alert), f"{what} {want} {ours}", f"{what} {got}", fix))

        labels = rule.get("labels") or {}
        if labels.get("severity") != p.severity:
            problem("severity", p.severity, str(labels.get("severity")),
                    f"set labels.severity: {p.severity}, or change the runbook's row")
        if _for_ms(rule) != p.for_ms:
            problem("for", format_ms(p.for_ms), str(rule.get("for")),
                    f"set for: {format_ms(p.for_ms)}, or change the runbook's row")
        c = split_threshold(str(rule.get("expr", "")))
        if not c or (c.op, c.value) != (p.threshold.op, p.threshold.value):
            found = c.threshold if c else "no comparison with a constant"
            problem("threshold", str(p.threshold), f"{found} (expr: {' '.join(str(rule.get('expr', '')).split())})",
                    f"make the expression end in {p.threshold} (its comparison with a constant), or change the "
                    "runbook's threshold if the promise changed")
        windows = set(range_windows(str(rule.get("expr", ""))))
        if windows != ({p.window_ms} if p.window_ms else set()):
            problem("window", format_ms(p.window_ms) if p.window_ms else "none",
                    ", ".join(sorted(format_ms(w) for w in windows)) or "none",
                    "make the expression's range windows the runbook's, or change its window column")
        for key, value in p.labels.items():
            if str(labels.get(key)) != value:
                problem(f"label {key}", f'"{value}"', repr(labels.get(key)),
                        f'set labels.{key}: "{value}" (the routing depends on it), or change the routing labels column')
    return out


def _for_ms(rule: dict) -> int | None:
    try:
        return parse_ms(rule.get("for") or "0s")
    except ValueError:
        return None
