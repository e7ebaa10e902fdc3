"""`alertdrill coverage`: per alert of the rules, what proves it works, and the gaps.

    alert  rule  promtool  mutants  routing  drill  runbook  last passed

- rule: the alerting rule and its severity;
- promtool: unit-test cases that expect it to fire (`rule_tests`);
- mutants: how many mutants of this rule and its route the mutation tests (`mutation_tests`) declare,
  all of which they require to be caught; counted when the alert has the firing unit test and the routing
  test that catch them (run the mutation tests for the verdict: coverage does not run them);
- routing: a routing test naming its receivers (`routing_tests`, checked with amtool);
- drill: a scenario whose AlertExpectation names it (a scaffold whose fault is not written is a gap);
- runbook: a section with an Investigation and a Remediation with commands;
- actions: how many of its section's remediation actions a drill runs; the others are checked statically
  (alertdrill.runbook.actions: they parse, their programs exist, they act on the services their section
  looks at), and one that fails that check is a gap;
- last passed: the newest timeline of a passing drill in the artifacts folder (information, not a gap).

`--fail-on-gap` exits 1 when any alert has a gap, so it can gate CI. `alertdrill check` runs first: a
broken promise (a rule off its runbook row, a route to the wrong receiver, ...) fails coverage with the
check's own lines, as files that exist prove nothing when they disagree (`--no-check` skips it).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from alertdrill.adopt import sources
from alertdrill.config import Config

COLUMNS = ("rule", "promtool", "mutants", "routing", "drill", "runbook", "actions")


@dataclass
class Row:
    alert: str
    cells: dict[str, str] = field(default_factory=dict)  # column -> what was found ("-" when nothing)
    gaps: list[str] = field(default_factory=list)  # what is missing, one phrase each
    last_passed: datetime | None = None

    @property
    def complete(self) -> bool:
        return not self.gaps


def _check(row: Row, column: str, ok: bool, found: str, gap: str) -> None:
    row.cells[column] = found if ok else "-"
    if not ok:
        row.gaps.append(gap)


def coverage(conf: Config, artifacts: Path | None = None) -> list[Row]:
    rules, tests, routes = sources.alert_rules(conf), sources.unit_tests(conf), sources.routing_tests(conf)
    drills, runbook = sources.drills(conf), sources.runbook(conf)
    passed = sources.last_passed(artifacts or conf.state_dir / "timelines")
    mutated = sources.mutation_tested(conf)
    checks = _action_checks(conf)
    rows = []
    for alert, rule in rules.items():
        row = Row(alert, last_passed=passed.get(alert))
        row.cells["rule"] = str((rule.get("labels") or {}).get("severity", "no severity"))
        _check(row, "promtool", alert in tests, f"{tests.get(alert, 0)} case(s)", "no promtool test expects it to fire")
        _check(row, "routing", alert in routes, ",".join(routes.get(alert, [])), "no routing test")
        _check(row, "mutants", mutated and alert in tests and alert in routes,
               f"{sources.declared_mutants(rule, routes.get(alert, []))} declared",
               "no mutation test can catch its mutants" if mutated else "no mutation tests")
        d = drills.get(alert)
        _check(row, "drill", d is not None and not d.skeleton, d.path.name if d else "",
               f"drill {d.path.name} is a skeleton: its fault is not written" if d else "no drill")
        if d is not None and d.skeleton:
            row.cells["drill"] = "skeleton"
        rb = runbook.get(alert)
        missing = [] if rb is None else [n for n, ok in (("investigation", rb.investigation),
                                                         ("remediation", rb.remediation)) if not ok]
        _check(row, "runbook", rb is not None and not missing, f"#{rb.anchor}" if rb else "",
               f"runbook section lacks {' and '.join(missing)}" if rb else "no runbook section")
        if rb is not None and missing:
            row.cells["runbook"] = "no " + "/".join(missing)
        _actions(row, checks.get(alert, []))
        rows.append(row)
    return rows


def _action_checks(conf: Config) -> dict[str, list]:
    from alertdrill.runbook.actions import action_report
    from alertdrill.runbook.parse import RunbookError, parse_runbook

    try:
        report = action_report(parse_runbook(conf.runbook), sources.drilled_actions(conf), conf.services)
    except (OSError, RunbookError):
        return {}
    out: dict[str, list] = {}
    for a in report:
        out.setdefault(a.alert, []).append(a)
    return out


def _actions(row: Row, checks: list) -> None:
    troubled = [a for a in checks if a.problems]
    row.cells["actions"] = f"{sum(a.drilled for a in checks)}/{len(checks)} drilled" if checks else "-"
    row.gaps += [f"action '{a.title or a.commands[0]}' {'; '.join(a.problems)}" for a in troubled]


def table(rows: list[Row]) -> str:
    def when(r: Row) -> str:
        return r.last_passed.strftime("%Y-%m-%d %H:%M UTC") if r.last_passed else "never"

    cols = ("alert", *COLUMNS, "last passed")
    grid = [[r.alert, *(r.cells.get(c, "-") for c in COLUMNS), when(r)] for r in rows]
    widths = [max([len(c), *(len(g[i]) for g in grid)]) for i, c in enumerate(cols)]
    lines = ["  ".join(f"{c:<{w}}" for c, w in zip(cols, widths)).rstrip()]
    lines += ["  ".join(f"{v:<{w}}" for v, w in zip(g, widths)).rstrip() for g in grid]
    gaps = [r for r in rows if r.gaps]
    lines.append("")
    lines.append(f"{len(rows) - len(gaps)} of {len(rows)} alerts complete")
    for r in gaps:
        lines.append(f"  gap: {r.alert}: " + "; ".join(r.gaps))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from alertdrill.config import current

    ap = argparse.ArgumentParser(prog="alertdrill coverage", description=__doc__.split("\n\n")[0])
    ap.add_argument("--fail-on-gap", action="store_true", help="exit 1 when any alert has a gap (for CI)")
    ap.add_argument("--artifacts", default=None, help="the drills' timelines (default: <state_dir>/timelines)")
    ap.add_argument("--no-check", action="store_true", help="count files without running `alertdrill check` first")
    args = ap.parse_args(argv)
    conf = current()
    if not args.no_check:
        from alertdrill.adopt.check.command import gate

        failed = gate(conf)
        if failed:
            print(f"{conf.describe()}\n\n{failed}")
            return 1
    rows = coverage(conf, Path(args.artifacts) if args.artifacts else None)
    print(f"{conf.describe()}\n")
    print(table(rows))
    if not rows:
        print(f"no alerting rules in {', '.join(conf.rule_globs)}")
        return 1 if args.fail_on_gap else 0
    return 1 if args.fail_on_gap and any(r.gaps for r in rows) else 0
