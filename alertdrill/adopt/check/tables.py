"""The runbook's promise tables are there and parse (alertdrill.runbook.promises reads them): each
missing table, missing column or unreadable cell named with the heading and the columns it needs."""
from __future__ import annotations

from alertdrill.adopt.check.model import Problem, Project

CHECK = "runbook tables"

# key in promises.tables() -> (the heading it sits under, which table under it, what it states, columns;
# the optional ones (window, routing labels, inhibits, response time, paged) shown in the header asked for
# but not required)
OPTIONAL = {"window", "routing labels", "inhibits", "response time", "paged"}
TABLES = (
    ("Alert index", "Alert index", 1, "each alert's promise",
     ("alert", "severity", "threshold", "window", "for", "routing labels", "receivers", "inhibits")),
    ("Severity levels", "Severity levels", 1, "what each severity means and whether it pages",
     ("severity", "response time", "paged")),
    ("Notification timing", "Notification timing", 1, "each receiver's Alertmanager timers",
     ("receiver", "group_wait", "group_interval", "repeat_interval")),
    ("Notification timing 2", "Notification timing", 2, "the labels notices are grouped by",
     ("grouping", "labels")),
    ("Notification timing 3", "Notification timing", 3, "the pipeline's scrape and evaluation intervals",
     ("stage", "interval")),
)
RECEIVERS = ("Receivers", ("receiver", "integration", "to"))
ORDINALS = {1: "a", 2: "a second", 3: "a third"}


def _header(columns: tuple[str, ...]) -> str:
    return "| " + " | ".join(columns) + " |"


def table_problems(project: Project) -> list[Problem]:
    """Each promise table the runbook lacks, naming the heading it goes under and its header row; one in
    the wrong place under its heading; and what alertdrill.runbook.promises cannot read in them."""
    from alertdrill.runbook.promises import tables

    rb = project.rel(project.conf.runbook)
    try:
        found = tables(project.conf.runbook.read_text(encoding="utf-8"))
    except OSError as exc:
        return [Problem(CHECK, rb, "a readable runbook", f"cannot read it: {exc.strerror or exc}",
                        "fix `runbook` in [tool.alertdrill]")]
    out = [p for spec in TABLES if (p := _table_problem(rb, found, *spec))]
    name, columns = RECEIVERS
    if name not in found:
        out.append(Problem(CHECK, f"{rb}, heading '{name}'", f"a table under '## {name}' with the header "
                           f"{_header(columns)}: how each receiver reaches people", "no such table",
                           "add it to hold production's receivers to it", not_checked=True))
    if not out and project.promises is None:
        out.append(_unreadable(project, rb))
    return out + draft_problems(project)


def draft_problems(project: Project) -> list[Problem]:
    """What `alertdrill init` drafted and nobody has reviewed yet: still marked DRAFT, it is no promise."""
    from alertdrill.adopt.markers import markers

    rb = project.rel(project.conf.runbook)
    try:
        found = markers(project.conf.runbook.read_text(encoding="utf-8"))
    except OSError:
        return []  # table_problems names the unreadable runbook
    labels = [(line, what if what.startswith("section") else f"{what} table") for line, what in found]
    return [Problem(CHECK, f"{rb}:{line}", f"the {label} reviewed (a promise people stand by)",
                    "the draft `alertdrill init` wrote, still marked DRAFT",
                    f"review the drafted {label} against what you mean to promise, then delete its DRAFT line")
            for line, label in labels]


def _table_problem(rb: str, found: dict, key: str, heading: str, nth: int, what: str,
                   columns: tuple[str, ...]) -> Problem | None:
    """The table `key` (the nth under its heading, as alertdrill.runbook.promises reads it) is there and
    has its columns: else what is under that heading instead."""
    under = [k for k in found if k == heading or k.startswith(heading + " ") and k[len(heading) + 1:].isdigit()]
    required = {c for c in columns if c not in OPTIONAL}
    fits = [k for k in under if found[k] and required <= set(found[k][0])]
    where, want = f"{rb}, heading '{heading}'", (f"{ORDINALS[nth]} table under the heading '## {heading}' stating "
                                                 f"{what}, with the header {_header(columns)}")
    if fits and fits[0] == key:
        return None
    if fits:
        return Problem(CHECK, where, want, f"it is table {under.index(fits[0]) + 1} under that heading",
                       f"order the tables under '## {heading}' as alertdrill reads them: "
                       + ", then ".join(f"| {' | '.join(t[4][:2])} ... |" for t in TABLES if t[1] == heading))
    seen = "; ".join(_header(tuple(found[k][0])) if found[k] else "a table without rows" for k in under)
    return Problem(CHECK, where, want, f"no such table (under that heading: {seen})" if under else "no such table",
                   f"add the table under '## {heading}'" + (" (alertdrill reads the tables under one heading in "
                                                            "order)" if nth > 1 else ""))


def _unreadable(project: Project, rb: str) -> Problem:
    from alertdrill.runbook.parse import parse_runbook_text
    from alertdrill.runbook.promises import PromiseError, parse_promises

    try:
        parse_promises(parse_runbook_text(project.conf.runbook.read_text(encoding="utf-8"), project.conf.runbook))
        seen = "nothing wrong on a second reading"
    except PromiseError as exc:
        seen = str(exc)
    except (KeyError, ValueError) as exc:
        seen = f"{type(exc).__name__}: {exc}"
    return Problem(CHECK, rb, "promise tables alertdrill.runbook.promises can read", seen,
                   "fix the cell named (thresholds like `> 1`, durations like `5m`)")
