"""The runbook's promise tables as `alertdrill init` drafts them, from what the platform already says: the
rules (severity label, threshold, window, `for`, static labels), alertmanager.yml (each alert's receivers,
walked through the routes as Alertmanager walks them; each receiver's timers; the grouping; the inhibit
rules; each receiver's integrations) and prometheus.yml (the intervals). Each table is in the shape
alertdrill.runbook.promises reads (the headings and columns of alertdrill.adopt.check.tables), with notes
on what a person must decide. alertdrill.adopt.runbook_drafts writes them into the runbook."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from alertdrill.adopt.check.inhibitions import inhibition_pairs
from alertdrill.adopt.check.model import Project, alert_rules, rule_labels
from alertdrill.adopt.check.receivers import TARGET
from alertdrill.adopt.check.tables import RECEIVERS, TABLES
from alertdrill.alerting import production, routing
from alertdrill.alerting.comparison import split_threshold
from alertdrill.alerting.durations import format_ms, parse_ms
from alertdrill.alerting.timescale import range_windows

PAGING = ("pagerduty", "opsgenie", "victorops")  # integrations that page someone
SEVERITY_ORDER = ("critical", "error", "warning", "info")
WHAT = ("alert index", "severity levels", "receiver timers", "grouping", "pipeline")  # TABLES in order


@dataclass
class Table:
    what: str  # its name in the DRAFT marker
    heading: str  # the heading alertdrill.runbook.promises finds it under
    slot: int  # its place among the tables under that heading (1: the first)
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    notes: list[str] = field(default_factory=list)  # what the reviewer must decide

    def lines(self, marker: str) -> list[str]:
        """The marker, the notes (quoted), a blank line, the table."""
        return [marker, *[f"> - {n}" for n in self.notes], "", "| " + " | ".join(self.columns) + " |",
                "|" + "|".join("-" * (len(c) + 2) for c in self.columns) + "|",
                *["| " + " | ".join(r) + " |" for r in self.rows]]


def _cell(text: object) -> str:
    return " ".join(str(text).replace("|", "/").split())


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _reached(project: Project) -> dict[str, list[tuple[str, dict[str, int]]]]:
    """alert -> (receiver, its route's timers) of every route that notifies for its rule's labels."""
    if not project.am.get("route"):
        return {}
    return {a: routing.delivering_routes(project.am, rule_labels(r)) for a, r in alert_rules(project.rules).items()}


def alert_index(project: Project) -> Table:
    rb, reached, notes, rows = project.runbook, _reached(project), [], []
    inhibits: dict[str, str] = {}
    for source, target, equal in inhibition_pairs(project.am):
        if source in inhibits:
            notes.append(f"{source} inhibits {target} too: the index holds one inhibition per alert")
        inhibits.setdefault(source, " ".join([target, *(["of the same", ", ".join(map(_code, equal))] if equal else [])]))
    for alert, rule in alert_rules(project.rules).items():
        labels = {k: str(v) for k, v in (rule.get("labels") or {}).items()}
        expr = " ".join(str(rule.get("expr", "")).split())
        found = split_threshold(expr)
        if found is None:
            notes.append(f"{alert}: its expression compares with no constant; `> 0` stands in for its threshold")
        windows = sorted(set(range_windows(expr)))
        if len(windows) > 1:
            notes.append(f"{alert}: several range windows ({', '.join(map(format_ms, windows))}); the index holds one")
        name = f"[{alert}](#{rb.section(alert).anchor})" if rb is not None and alert in rb else alert
        summary = (rule.get("annotations") or {}).get("summary") or expr
        rows.append((name, _cell(labels.pop("severity", "")), _cell(summary), _code(found.threshold if found else "> 0"),
                     _code(format_ms(windows[0]) if windows else ""), _code(format_ms(parse_ms(str(rule.get("for") or "0s")))),
                     ", ".join(_code(f'{k}="{v}"') for k, v in labels.items()),
                     ", ".join(r for r, _t in reached.get(alert, [])), inhibits.get(alert, "")))
    columns = TABLES[0][4]
    return Table(WHAT[0], TABLES[0][1], 1, (*columns[:2], "fires when", *columns[2:]), rows, notes)


def severity_levels(project: Project) -> Table:
    by_severity: dict[str, set[str]] = {}
    for alert, rule in alert_rules(project.rules).items():
        severity = str((rule.get("labels") or {}).get("severity", ""))
        by_severity.setdefault(severity, set()).update(r for r, _t in _reached(project).get(alert, []))
    paging = {r.get("name") for r in project.am.get("receivers") or [] if isinstance(r, dict)
              and any(r.get(f"{i}_configs") for i in PAGING)}
    order = sorted(by_severity, key=lambda s: (SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else 99, s))
    rows, notes = [], ["response time: how soon someone must act on each severity (alertdrill shows it, "
                       "never checks it)"]
    for s in order:
        pages = sorted(by_severity[s] & paging)
        if pages:
            paged = f"yes ({', '.join(pages)})"
        elif not paging and s == "critical":
            paged = "yes (no PagerDuty, Opsgenie or VictorOps receiver: critical pages by default)"
        else:
            paged = "no"
        rows.append((s or "(none)", "TODO", paged))
    return Table(WHAT[1], TABLES[1][1], 1, TABLES[1][4], rows, notes)


def receiver_timers(project: Project) -> Table:
    seen: dict[str, dict[str, int]] = {}
    notes = []
    for alert, routes in _reached(project).items():
        for receiver, timers in routes:
            if receiver in seen and seen[receiver] != timers:
                notes.append(f"{receiver}: {alert} reaches it on a route with other timers; the table holds one")
            seen.setdefault(receiver, timers)
    order = [r.get("name") for r in project.am.get("receivers") or [] if isinstance(r, dict)]
    rows = [(r, *(_code(format_ms(seen[r][t])) for t in routing.TIMERS)) for r in order if r in seen]
    return Table(WHAT[2], TABLES[2][1], 1, TABLES[2][4], rows, list(dict.fromkeys(notes)))


def grouping(project: Project) -> Table:
    group_by = (project.am.get("route") or {}).get("group_by") or []
    return Table(WHAT[3], TABLES[3][1], 2, TABLES[3][4], [("group by", ", ".join(map(str, group_by)))])


def pipeline(project: Project) -> Table:
    prom = project.conf.prometheus
    if prom is None:
        scrape = evaluation = format_ms(production.PROMETHEUS_DEFAULT_MS)
        notes = ["no prometheus.yml is configured: these are Prometheus' defaults; set `prometheus` in "
                 "[tool.alertdrill] to have production's held to them"]
    else:
        scrape, evaluation = production.intervals(prom)
        notes = []
    rows = [("scrape", _code(format_ms(parse_ms(scrape)))), ("rule evaluation", _code(format_ms(parse_ms(evaluation))))]
    return Table(WHAT[4], TABLES[4][1], 3, TABLES[4][4], rows, notes)


def _to(integration: str, config: dict) -> str:
    """Where one integration of a receiver goes, without its secrets."""
    if integration in TARGET:
        return _code(_cell(config.get(TARGET[integration], "")))
    if config.get("url"):
        u = urlsplit(str(config["url"]))
        return _code(f"{u.scheme}://{u.hostname or ''}{f':{u.port}' if u.port else ''}{u.path}")
    files = [f"{k} in {v}" for k, v in config.items() if k.endswith("_file")]
    return _cell("; ".join(files))


def receivers(project: Project) -> Table:
    gets: dict[str, list[str]] = {}
    for alert, routes in _reached(project).items():
        for r in dict.fromkeys(r for r, _t in routes):
            gets.setdefault(r, []).append(alert)
    rows = []
    for r in project.am.get("receivers") or []:
        name = r.get("name") if isinstance(r, dict) else None
        for key, configs in (r.items() if name else []):
            if key.endswith("_configs"):
                rows += [(name, ", ".join(gets.get(name, [])) or "no alert of the rules",
                          key.removesuffix("_configs"), _to(key.removesuffix("_configs"), c if isinstance(c, dict) else {}))
                         for c in configs or []]
    name, columns = RECEIVERS
    return Table("receivers", name, 1, (columns[0], "gets", *columns[1:]), rows)


def draft_tables(project: Project) -> list[Table]:
    """Every promise table, in the order alertdrill.adopt.check.tables lists them, then the Receivers."""
    return [alert_index(project), severity_levels(project), receiver_timers(project), grouping(project),
            pipeline(project), receivers(project)]
