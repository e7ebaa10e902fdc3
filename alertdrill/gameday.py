"""`alertdrill gameday [ALERT ...]`: the chosen drills at any factor (1 = production timings) against the
stack that is running, which it leaves running; people remediate with `--remediate human`; `--plan`
prints what would happen and changes nothing. It is pytest underneath (the same options work there):
this module only turns the command line into pytest's."""
from __future__ import annotations

import argparse
import sys

from alertdrill.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("alerts", nargs="*", metavar="ALERT",
                   help="the alerts to drill, or ALERT[situation] for one of its drills (default: every one)")
    p.add_argument("--factor", default="1", help="time compression (default 1: production timings)")
    p.add_argument("--remediate", choices=["runbook", "human"], default="runbook",
                   help="who applies the remediation (default runbook; human: people on call, timed)")
    p.add_argument("--max-drill-duration", default="none", metavar="S",
                   help="seconds a drill may take at most; then it heals and is reported aborted")
    p.add_argument("--max-fire-ratio", default="none", metavar="R", help="fail a drill whose time to fire > R x floor")
    p.add_argument("--max-notifications", default="none", metavar="N",
                   help="fail a drill that delivered more than N notifications (pages and messages)")
    p.add_argument("--no-abort-on-critical", dest="abort_on_critical", action="store_false",
                   help="keep drilling when an unrelated critical alert fires (default: abort, heal, report)")
    p.add_argument("--health-probe", action="append", default=[], metavar="URL",
                   help="a URL that must answer 2xx during the drill (repeatable)")
    p.add_argument("--probe-grace", default="30", metavar="S", help="seconds a probe may fail before the drill aborts")
    p.add_argument("--plan", action="store_true", help="dry run: print each drill's plan, start or change nothing")
    p.add_argument("--runbook", default=None, help="the runbook (default docs/runbook.md)")
    p.set_defaults(pytest_args=[])  # what follows `--` on the command line (see split_pytest_args)


def split_pytest_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """`alertdrill gameday A B --factor 1 -- --junitxml=x.xml`: the gameday's own arguments, and pytest's."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def selection(alerts: list[str], known: list[str]) -> list[str]:
    """pytest's -k for the chosen alerts, each an alert of the runbook, or one situation of it
    (`RedisDisconnected[container_gone]`: that drill only); ConfigError naming the valid ones for an
    unknown one."""
    chosen = [(a.partition("[")[0], a.partition("[")[2].rstrip("]")) for a in alerts]
    unknown = [a for a, (name, _) in zip(alerts, chosen) if name not in known]
    if unknown:
        raise ConfigError(f"no drill for {', '.join(unknown)}: the runbook's alerts are {', '.join(known)} "
                          "(one of its situations as ALERT[situation], e.g. RedisDisconnected[crashed])")
    terms = [f"(test_{name} and {variant})" if variant else f"test_{name}" for name, variant in chosen]
    return ["-k", " or ".join(terms)] if alerts else []


def pytest_args(args: argparse.Namespace) -> list[str]:
    from alertdrill.runbook.parse import parse_runbook

    known = parse_runbook(args.runbook).alert_names()
    out = ["scenarios", *selection(args.alerts, known), "--drill-factor", args.factor, "-p", "no:cacheprovider"]
    if args.runbook:
        out += ["--runbook", args.runbook]
    if args.plan:
        return out + ["--plan", "-q", *_rest(args)]
    return out + ["--reuse-stack", "--remediate", args.remediate, "--max-drill-duration", args.max_drill_duration,
                  "--max-fire-ratio", args.max_fire_ratio, "--max-notifications", args.max_notifications,
                  "--probe-grace", args.probe_grace,
                  *(["--abort-on-critical"] if args.abort_on_critical else []),
                  *(["--health-probe", ",".join(args.health_probe)] if args.health_probe else []), *_rest(args)]


def _rest(args: argparse.Namespace) -> list[str]:
    return list(args.pytest_args)


def run(args: argparse.Namespace) -> int:
    import pytest

    if args.plan:
        sys.dont_write_bytecode = True  # a plan writes nothing, not even __pycache__
    return int(pytest.main(pytest_args(args)))
