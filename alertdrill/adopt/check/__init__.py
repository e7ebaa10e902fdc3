"""`alertdrill check`: every promise the runbook makes that can be checked without a container, in
seconds: the promise tables, the rules against the alert index, the routing (walked, and with amtool),
the inhibitions, the receivers, the runbook links, the services and ports, the drill factor, production's
intervals, and promtool (check rules, the configured unit tests, the boundary tests generated from the
thresholds).

    result = run(config.current())
    result.problems            # Problem(check, where, expected, found, change); not_checked ones apart

Each check is a function of the loaded Project returning Problems, listed in CHECKS in the order they
run. A check of one more promise is appended there.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from alertdrill.adopt.check import inhibitions, links, promtool, receivers, routing, rules, setup, tables
from alertdrill.adopt.check.model import Problem, Project
from alertdrill.config import Config

__all__ = ["CHECKS", "Check", "Problem", "Project", "Result", "run"]


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Project], list[Problem]]
    what: str


CHECKS: list[Check] = [
    Check("runbook tables", tables.table_problems, "the runbook's promise tables are there and parse"),
    Check("rules", rules.index_problems, "every rule has an alert index row, every row a rule"),
    Check("rules", rules.promise_problems, "severity, threshold, window, for, routing labels as the index says"),
    Check("routing", routing.promise_problems, "receivers, timers, grouping, pages at any hour"),
    Check("amtool", routing.amtool_problems, "amtool check-config and routes test on the rules' labels"),
    Check("inhibitions", inhibitions.inhibition_problems, "the promised inhibitions, on labels the rules produce"),
    Check("receivers", receivers.receiver_problems, "production's receivers as the Receivers table says"),
    Check("runbook_url", links.link_check, "each rule's runbook_url leads to its section"),
    Check("services", setup.service_problems, "services of the compose file, with port variables it uses"),
    Check("drill factor", setup.factor_problems, "the drill factor keeps enough scrapes in every window"),
    Check("production intervals", setup.production_problems, "production's scrape and evaluation intervals"),
    Check("promtool", promtool.check_rules, "promtool check rules"),
    Check("promtool", promtool.rule_tests, "the configured promtool unit tests"),
    Check("boundaries", promtool.boundary_tests, "generated tests just past and short of each threshold"),
]


@dataclass
class Result:
    problems: list[Problem] = field(default_factory=list)  # in the order of CHECKS
    seconds: float = 0.0
    checks: int = 0

    @property
    def failed(self) -> list[Problem]:
        return [p for p in self.problems if not p.not_checked]

    @property
    def not_checked(self) -> list[Problem]:
        return [p for p in self.problems if p.not_checked]

    def summary(self) -> str:
        return (f"alertdrill check: {len(self.failed)} problem(s), {len(self.not_checked)} not checked, "
                f"{self.checks} checks in {self.seconds:.1f} s")

    def lines(self) -> list[str]:
        """One line per problem, grouped by check (the not-checked after the problems of each)."""
        out, groups = [], {}
        for p in self.problems:
            groups.setdefault(p.check, []).append(p)
        for check, found in groups.items():
            out.append(f"[{check}]")
            out += [f"  {p}" for p in sorted(found, key=lambda p: p.not_checked)]
        return out


def run(conf: Config, factor=None, domains: dict[str, list[str]] | None = None,
        checks: list[Check] | None = None) -> Result:
    """Run every check (CHECKS, or `checks`) on the configured project; the drill factor and a label
    domain (label -> every value the platform gives it) as given."""
    started = time.monotonic()
    project = Project(conf, factor=factor, domains=dict(domains or {}))
    result = Result()
    for check in CHECKS if checks is None else checks:
        result.problems += check.run(project)
        result.checks += 1
    result.seconds = time.monotonic() - started
    return result
