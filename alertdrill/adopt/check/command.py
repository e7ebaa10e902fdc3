"""The command line of `alertdrill check` and the gate the other commands run first (`alertdrill
coverage`, the pytest plugin's --plan): exit 0 when every promise holds, 1 on a problem, 2 on bad usage
or configuration (alertdrill.cli)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from alertdrill.adopt import check
from alertdrill.config import Config, drill_factor
from alertdrill.errors import ConfigError

DESCRIPTION = ("check the rules, routing, runbook and configuration against the runbook's promises, without "
               "containers: one line per problem (where, expected, found, what to change), then a summary")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--factor", default=None, help="the drill factor to check against the rule windows (default: "
                                                  "drill_factor of [tool.alertdrill], else of "
                                                  "[tool.pytest.ini_options], else 30)")
    ap.add_argument("--label-domain", default=None, metavar="YAML",
                    help="label -> every value the platform gives it (YAML lists): alerts per such a label are "
                         "routed and boundary-tested on every value (default: label_domain of [tool.alertdrill])")
    ap.add_argument("--mutants", action="store_true",
                    help="then break the rules on purpose, one change to one alert at a time, and name each change "
                         "no check notices (alertdrill.adopt.check.mutants; seconds per mutant)")
    ap.add_argument("--json", action="store_true", help="print the problems as JSON (one object) instead")
    ap.add_argument("--strict", action="store_true", help="exit 1 on what could not be checked, too")


def label_domain(path: str | Path | None) -> dict[str, list[str]]:
    """The label domain file's lists of values (other keys, such as YAML anchors' holders, are kept too:
    only labels a rule groups by are used)."""
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"label domain {path}: cannot read it ({exc}); expected YAML `label: [value, ...]`") from None
    if not isinstance(data, dict):
        raise ConfigError(f"label domain {path}: expected a mapping `label: [value, ...]`, got {type(data).__name__}")
    return {str(k): [str(x) for x in v] for k, v in data.items() if isinstance(v, list)}


def run(conf: Config, factor=None, domains: dict[str, list[str]] | None = None) -> check.Result:
    """The check at `factor` (the command line's), else at the configured drill factor (config.drill_factor);
    with `domains` (the command line's), else the configured label_domain's."""
    value, _where = drill_factor(conf, factor)
    return check.run(conf, factor=value, domains=_domains(conf, domains))


def _domains(conf: Config, given: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """The command line's label domain, else the configured label_domain's."""
    return label_domain(conf.label_domain) if given is None else given


def _mutant_problems(conf: Config, result: check.Result, factor, domains) -> tuple[list[check.Problem], list[str]]:
    """The surviving mutants, once the unbroken rules pass: against rules that already fail a check, a
    mutant's verdict would mean nothing."""
    from alertdrill.adopt.check import mutants, promtool

    if result.failed:
        return [check.Problem("mutants", "(not run)", "every check passing on the rules as they are",
                              f"{len(result.failed)} problem(s)", "fix them, then run --mutants", not_checked=True)], []
    value, _where = drill_factor(conf, factor)
    reading = [c for c in check.CHECKS if c.run is not promtool.rule_tests]  # unit tests name their own rule files
    found, ran = mutants.survivors(conf, reading, value, _domains(conf, domains))
    result.checks += 1
    return found, [f"mutants: {ran} run, {ran - len(found)} noticed by the checks, {len(found)} survived"]


def gate(conf: Config, factor=None) -> str | None:
    """What `coverage` and `--plan` run first: None when clean, else the check's report to fail with."""
    result = run(conf, factor)
    if not result.failed:
        return None
    return "\n".join([*result.lines(), result.summary(), "(`alertdrill check` shows the same; fix these first)"])


def main(args: argparse.Namespace, conf: Config) -> int:
    domains = label_domain(args.label_domain) if args.label_domain else None
    result = run(conf, args.factor, domains)
    told = []
    if args.mutants:
        found, told = _mutant_problems(conf, result, args.factor, domains)
        result.problems += found
    if args.json:
        print(json.dumps({"problems": [p.as_dict() for p in result.problems], "seconds": round(result.seconds, 2),
                          "failed": len(result.failed), "not_checked": len(result.not_checked)}, indent=2))
    else:
        print(conf.describe())
        for line in result.lines():
            print(line)
        print(result.summary())
        for line in told:
            print(line)
    return 1 if result.failed or (args.strict and result.not_checked) else 0
