"""The inhibit rules against the runbook's `inhibits` column: the same (source, target, equal) pairs, and
each rule's matchers and `equal` labels on labels the rules really produce (an `equal` label the
expressions drop never matches, and the inhibition silences nothing)."""
from __future__ import annotations

import re

from alertdrill.adopt.check.model import Problem, Project, alert_rules
from alertdrill.adopt.check.routing import grouping_labels
from alertdrill.alerting import routing

CHECK = "inhibitions"


def inhibition_pairs(am: dict) -> list[tuple[str, str, tuple[str, ...]]]:
    """(source alertname, target alertname, equal labels) of every inhibit rule that names both."""
    def alertname(rule: dict, side: str) -> str | None:
        for m in rule.get(f"{side}_matchers") or []:
            mm = re.fullmatch(r'\s*alertname\s*=\s*"?([^"]*)"?\s*', m)
            if mm:
                return mm.group(1)
        return (rule.get(f"{side}_match") or {}).get("alertname")

    out = []
    for rule in am.get("inhibit_rules") or []:
        s, t = alertname(rule, "source"), alertname(rule, "target")
        if s and t:
            out.append((s, t, tuple(sorted(rule.get("equal") or []))))
    return out


def promised_pairs(promised) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(a.alert, i.target, tuple(sorted(i.equal))) for a in promised.alerts.values() for i in a.inhibits}


def inhibition_problems(project: Project) -> list[Problem]:
    if project.promises is None:
        return []
    am = project.rel(project.conf.alertmanager)
    promised, configured = promised_pairs(project.promises), set(inhibition_pairs(project.am))
    out = [Problem(CHECK, f"{project.index_row(s)}, inhibits", f"an inhibit rule: {s} silences {t} of the same {list(e)}",
                   "no such inhibit rule" + _near(configured, s, t), f"add or fix it in {am} inhibit_rules")
           for s, t, e in sorted(promised - configured)]
    out += [Problem(CHECK, f"{am} inhibit_rules", f"only the runbook's inhibitions ({sorted(promised) or 'none'})",
                    f"{s} silences {t} of the same {list(e)}", "remove it, or add it to the runbook's inhibits column")
            for s, t, e in sorted(configured - promised) if not any((s, t) == p[:2] for p in promised)]
    return out + matcher_problems(project.am, project.rules, am)


def _near(configured: set, source: str, target: str) -> str:
    same = [e for s, t, e in configured if (s, t) == (source, target)]
    return f" (one with equal {list(same[0])})" if same else ""


def matcher_problems(am: dict, rules: dict, where: str = "alertmanager.yml") -> list[Problem]:
    """Each inhibit rule's source and target matchers match an alert the rules produce, and that alert's
    expression keeps every `equal` label."""
    out = []
    by_name = alert_rules(rules)
    for i, rule in enumerate(am.get("inhibit_rules") or []):
        for side in ("source_matchers", "target_matchers"):
            produced = [n for n, r in by_name.items()
                        if routing.matches({"matchers": rule.get(side) or []}, {"alertname": n, **(r.get("labels") or {})})]
            if not produced:
                out.append(Problem(CHECK, f"{where} inhibit_rules[{i}].{side}", "matchers that match an alert the "
                                   "rules produce", f"{rule.get(side)} match none", "fix the matchers"))
            for name in produced:
                kept = grouping_labels(str(by_name[name].get("expr", "")))
                missing = [e for e in rule.get("equal") or [] if e not in kept]
                if missing:
                    out.append(Problem(CHECK, f"{where} inhibit_rules[{i}].equal", f"labels {name}'s alerts carry "
                                       f"({sorted(kept)})", f"equal {rule.get('equal')}: {missing} never on {name}",
                                       "the inhibition never matches: fix `equal`, or keep the label in the "
                                       "expression's by (...)"))
    return out
