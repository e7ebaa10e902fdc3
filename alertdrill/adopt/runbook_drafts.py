"""Drafts written into the user's runbook, each under a DRAFT marker (alertdrill.adopt.markers): a promise
table where the runbook has none (alertdrill.adopt.drafts), and a section skeleton for an alert the runbook
names nowhere. A table still marked is redrafted on every run; a reviewed one (its marker deleted) is never
touched; the same inputs give the same text, so re-running init changes nothing.

Tables go where alertdrill.runbook.promises reads them: under their heading (a new `## Heading` before the
runbook's first other `##` section when it has none), in their order among the tables under it."""
from __future__ import annotations

import re
from dataclasses import dataclass

from alertdrill.adopt.drafts import Table
from alertdrill.adopt.markers import marker, what
from alertdrill.runbook.promises import _cell as cell_text

PROMISE_HEADINGS = ("Alert index", "Severity levels", "Notification timing", "Receivers")
DRAFTED_ALERTS = "Alerts drafted by alertdrill init"
_SEPARATOR = re.compile(r"^\|[\s\-:|]+\|$")


@dataclass(frozen=True)
class Found:
    """A table of the runbook: its lines [start, end), the heading it is under (as
    alertdrill.runbook.promises finds it), its first column, and where its DRAFT marker is (None: reviewed)."""
    start: int
    end: int
    heading: str
    first: str
    marker_at: int | None


def _tables(lines: list[str]) -> list[Found]:
    out, heading, i = [], "", 0
    while i < len(lines):
        if lines[i].startswith("#"):
            heading = lines[i].lstrip("#").strip()
        if lines[i].startswith("|") and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1].strip()):
            end = i + 2
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            first = cell_text(lines[i].strip().strip("|").split("|")[0]).lower()
            out.append(Found(i, end, heading, first, _marker_above(lines, i)))
            i = end
            continue
        i += 1
    return out


def _marker_above(lines: list[str], start: int) -> int | None:
    """The DRAFT marker of a table's block (blank and quoted note lines may stand between), if any."""
    i = start - 1
    while i >= 0 and (not lines[i].strip() or lines[i].startswith("> ")):
        if what(lines[i]):
            return i
        i -= 1
    return None


def _padded(lines: list[str], at: int, block: list[str]) -> list[str]:
    """`block` with the blank lines it needs to sit at `at` as a paragraph of its own."""
    before = [""] if at > 0 and lines[at - 1].strip() else []
    after = [""] if at < len(lines) and lines[at].strip() else []
    return before + block + after


def _new_section_at(lines: list[str]) -> int:
    """Before the first `##` section that is not a promise table's, else at the end."""
    for i, line in enumerate(lines):
        if line.startswith("## ") and line[3:].strip() not in PROMISE_HEADINGS:
            return i
    return len(lines)


def place(text: str, table: Table, sources: str) -> tuple[str, str]:
    """The runbook's text with `table` drafted in, and what was done: "drafted", "redrafted", "unchanged"
    (a draft as it was) or "reviewed" (left alone)."""
    lines = text.splitlines()
    block = table.lines(marker(table.what, sources))
    under = [t for t in _tables(lines) if t.heading == table.heading]
    mine = [t for t in under if t.first == table.columns[0] and _slot(t, table) == table.slot]
    if mine:
        t = mine[0]
        if t.marker_at is None:
            return text, "reviewed"
        new = lines[:t.marker_at] + block + lines[t.end:]
        return _join(new, text), "unchanged" if new == lines else "redrafted"
    earlier = [t for t in under if _slot(t, table) < table.slot]
    later = [t for t in under if _slot(t, table) > table.slot]
    head = next((i for i, line in enumerate(lines) if line.startswith("#")
                 and line.lstrip("#").strip() == table.heading), None)
    if earlier:
        at = earlier[-1].end
    elif later:
        at = later[0].marker_at if later[0].marker_at is not None else later[0].start
    elif head is not None:
        at = head + 1
    else:
        at = _new_section_at(lines)
        block = [f"## {table.heading}", ""] + block
    return _join(lines[:at] + _padded(lines, at, block) + lines[at:], text), "drafted"


def _slot(found: Found, table: Table) -> int:
    """A found table's place among the promise tables of its heading (by its first column)."""
    order = {"Notification timing": ("receiver", "grouping", "stage")}.get(table.heading, (table.columns[0],))
    return order.index(found.first) + 1 if found.first in order else 0


def _join(lines: list[str], like: str) -> str:
    return "\n".join(lines) + ("\n" if like.endswith("\n") or not like else "")


def section(alert: str, rule: dict, level: int, sources: str) -> list[str]:
    """A section skeleton for an alert the runbook does not name: what the rule says, and TODO for what
    only people know."""
    notes = rule.get("annotations") or {}
    symptoms = " ".join(" ".join(str(notes.get(k, "")).split()) for k in ("summary", "description") if notes.get(k))
    return [f"{'#' * level} {alert}", "", marker(f"section {alert}", sources, redrafted=False), "", "**Symptoms**:",
            symptoms or f"TODO: what people see when {alert} fires (`{' '.join(str(rule.get('expr', '')).split())}`).",
            "", "**Investigation**:",
            "TODO: the first commands someone on call runs, in a ```bash block (the drills run them as written).",
            "", "**Remediation**:",
            "TODO: one ```bash block; a `# comment` line names each action, the commands below it carry it out.", ""]


def add_sections(text: str, alerts: dict[str, dict], level: int, sources: str) -> str:
    """The runbook with a section skeleton appended for each of `alerts` (alert -> its rule)."""
    if not alerts:
        return text
    lines = text.rstrip("\n").splitlines()
    if level > 2 and not any(line.strip() == f"## {DRAFTED_ALERTS}" for line in lines):
        lines += ["", f"## {DRAFTED_ALERTS}"]
    for alert, rule in alerts.items():
        lines += [""] + section(alert, rule, level, sources)
    return "\n".join(lines).rstrip("\n") + "\n"


def draft_runbook(conf) -> list[str]:
    """Draft into the configured runbook what it lacks (a section per alert it does not name, then each
    promise table); returns one line per draft saying what was done."""
    from alertdrill.adopt.check.model import Project, alert_rules
    from alertdrill.adopt.drafts import draft_tables

    project = Project(conf)
    path, report = conf.runbook, []
    text = path.read_text(encoding="utf-8")
    rules, rb = alert_rules(project.rules), project.runbook
    missing = {a: r for a, r in rules.items() if rb is None or a not in rb}
    if missing:
        level = rb.sections[0].level if rb is not None and rb.sections else 3
        files = {a: project.rel(project.rule_file(a)) for a in missing}
        for alert, rule in missing.items():
            text = add_sections(text, {alert: rule}, level, files[alert])
            report.append(f"drafted a section for {alert} in {project.rel(path)}: the runbook names it nowhere")
        path.write_text(text, encoding="utf-8")
        project = Project(conf)  # the index links the new sections
    sources = [*(project.rel(p) for p in conf.rules), project.rel(conf.alertmanager)]
    for table in draft_tables(project):
        prometheus = [project.rel(conf.prometheus)] if table.what == "pipeline" and conf.prometheus else []
        text, done = place(text, table, ", ".join(sources + prometheus))
        verb = {"reviewed": "kept the reviewed", "unchanged": "kept the unchanged draft of the"}.get(done, done + " the")
        report.append(f"{verb} {table.what} table under '## {table.heading}' of {project.rel(path)}")
        report += [f"  to review: {n}" for n in table.notes if done in ("drafted", "redrafted", "unchanged")]
    path.write_text(text, encoding="utf-8")
    return report
