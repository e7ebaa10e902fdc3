"""Every alerting rule's runbook_url leads to the runbook's path and to the alert's own section
(alertdrill.runbook.links, the check the drills make of every notice). A rule without one gets the
annotation to add."""
from __future__ import annotations

from alertdrill.adopt.check.model import Problem, Project, alert_rules
from alertdrill.runbook.links import link_problems, runbook_path

CHECK = "runbook_url"


def link_check(project: Project) -> list[Problem]:
    rb, rules = project.runbook, alert_rules(project.rules)
    if not rules:
        return []
    if rb is None:
        return [Problem(CHECK, project.rel(project.conf.runbook), "a runbook with a section per alert",
                        "it cannot be read or names no alert under its headings",
                        "fix `runbook` in [tool.alertdrill], or give each alert a heading (### AlertName)")]
    own = runbook_path(rb, project.conf.root)
    base = _base(rules, own)
    out = []
    for alert, rule in rules.items():
        where = project.rule_where(alert)
        if alert not in rb:
            out.append(Problem(CHECK, where, f"a section of {own} for {alert} (a heading naming it)",
                               f"no heading names it (the runbook names {', '.join(rb.alert_names())})",
                               f"add a section '### {alert}' with Symptoms, Investigation and Remediation"))
            continue
        anchor = rb.section(alert).anchor
        url = str((rule.get("annotations") or {}).get("runbook_url", "")).strip()
        if not url:
            out.append(Problem(CHECK, where, f"annotations.runbook_url leading to {own}#{anchor}", "no runbook_url",
                               f"add under annotations: runbook_url: \"{base}{own}#{anchor}\""))
            continue
        out += [Problem(CHECK, where, f"a runbook_url leading to {own}#{anchor}", p,
                        f"set runbook_url: \"{base}{own}#{anchor}\"") for p in link_problems(url, alert, rb, project.conf.root)]
    return out


def _base(rules: dict, own: str) -> str:
    """What the rules' own runbook links put before the runbook's path (e.g. a repository's blob URL)."""
    for rule in rules.values():
        url = str((rule.get("annotations") or {}).get("runbook_url", "")).split("#")[0]
        if url.endswith(own):
            return url[:-len(own)]
    return ""
