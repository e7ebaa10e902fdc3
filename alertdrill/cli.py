"""`alertdrill`: bring the stack up, show it, take it down; render drill configs; list a runbook's
alerts and actions; check them; say which drills a change affects; run drills and gamedays; make the
report of a run."""
from __future__ import annotations

import argparse
import sys

from alertdrill.errors import ConfigError, StackError


def _production_copy():
    """Production's timers and intervals, but delivered to the local receivers: production's own file
    would page for real."""
    from alertdrill.alerting import production
    from alertdrill.alerting.drillconfig import render_drill_config
    from alertdrill.config import current

    prometheus = current().prometheus
    scrape, evaluation = production.intervals(prometheus) if prometheus else ("1s", "1s")
    return render_drill_config(1, run_label=False, scrape_interval=scrape, evaluation_interval=evaluation)


def _factor(args: argparse.Namespace) -> str:
    """--factor if given, else the configured drill factor (alertdrill.config.drill_factor), as a number."""
    from alertdrill import config
    from alertdrill.alerting.timescale import fmt_factor

    return fmt_factor(config.drill_factor(config.current(), args.factor)[0])


def _stack_cmd(args: argparse.Namespace) -> int:
    from alertdrill.alerting.drillconfig import render_drill_config
    from alertdrill.target.stack import Stack

    factor = _factor(args)
    overrides = _production_copy().env if args.production else render_drill_config(factor).env
    stack = Stack(overrides)
    try:
        if args.action == "up":
            timing = "production timings" if args.production else f"drill timings (time compressed x{factor})"
            print(f"bringing the stack up with {timing}; first build takes a few minutes ...", flush=True)
            stack.up()
            print(stack.describe())
        elif args.action == "status":
            print(stack.describe())
            return 0 if stack.healthy() else 1
        elif args.action == "down":
            stack.down()
            print(f"stack down: containers, volumes and networks of project {stack.project!r} removed")
        return 0
    finally:
        stack.close()


def _render_cmd(args: argparse.Namespace) -> int:
    from alertdrill.alerting import drillconfig

    return drillconfig.main(["--factor", _factor(args), "--out", args.out])


def _runbook_cmd(args: argparse.Namespace) -> int:
    from alertdrill.runbook import parse

    return parse.main([args.path] if args.path else [])


def _init_cmd(args: argparse.Namespace) -> int:
    from alertdrill.adopt import scaffold

    return scaffold.run(args)


def _coverage_cmd(args: argparse.Namespace) -> int:
    from alertdrill.adopt import coverage

    return coverage.main([*(["--fail-on-gap"] if args.fail_on_gap else []),
                          *(["--no-check"] if args.no_check else []),
                          *(["--artifacts", args.artifacts] if args.artifacts else [])])


def _check_cmd(args: argparse.Namespace) -> int:
    from alertdrill import config
    from alertdrill.adopt.check import command

    return command.main(args, config.current())


def _affected_cmd(args: argparse.Namespace) -> int:
    from alertdrill import config
    from alertdrill.adopt import affected_report

    return affected_report.main(args, config.current())


def _report_cmd(args: argparse.Namespace) -> int:
    from pathlib import Path

    from alertdrill.report import history, load_dir, summary_markdown, write_html

    timelines = load_dir(Path(args.dir))
    trends = history.trend_svgs(history.read(Path(args.history)), timelines) if args.history else {}
    out = write_html(timelines, Path(args.output), trends=trends)
    print(f"report of {len(timelines)} drills written to {out}")
    if args.markdown:
        Path(args.markdown).write_text(summary_markdown(timelines))
        print(f"summary written to {args.markdown}")
    return 0


def _drill_cmd(args: argparse.Namespace) -> int:
    import pytest

    from alertdrill import config

    conf = config.current()
    extra = ["--alertdrill-config", str(conf.source)] if conf.source else []
    return pytest.main([str(conf.scenarios), *extra, *args.pytest_args])


FACTOR_HELP = ("time-compression factor of the drill timings (default: drill_factor of [tool.alertdrill], else of "
               "[tool.pytest.ini_options], else 30)")


def _subcommand_at(argv: list[str]) -> int | None:
    """Where the subcommand is, after the global options (`--config PYPROJECT`)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 1 if "=" in argv[i] or argv[i] in ("-h", "--help") else 2
    return i if i < len(argv) else None


def _add_adopt(sub) -> None:
    """`init`, `check` and `affected`: their modules give their options and description."""
    from alertdrill.adopt import affected_report, scaffold
    from alertdrill.adopt.check import command

    for name, module, func, help_ in (
            ("init", scaffold, _init_cmd, "write [tool.alertdrill], draft the runbook's promise tables (marked "
                                          "DRAFT for review), name missing runbook_urls, and a skeleton drill per alert"),
            ("check", command, _check_cmd, "the rules, routing, runbook and configuration against the runbook's "
                                           "promises, in seconds, without containers (exit 1 on a problem)"),
            ("affected", affected_report, _affected_cmd, "the drills a change since --base REF can affect, each with why, "
                                                  "and the pytest arguments that run them (a pull request's gate)")):
        p = sub.add_parser(name, help=help_, description=module.DESCRIPTION)
        module.add_arguments(p)
        p.set_defaults(func=func)


def _parser() -> argparse.ArgumentParser:
    """Every subcommand and its options in one place, as `alertdrill --help` lists them."""
    from alertdrill import gameday

    parser = argparse.ArgumentParser(prog="alertdrill", description=__doc__)
    parser.add_argument("--config", default=None, metavar="PYPROJECT",
                        help="the pyproject.toml with [tool.alertdrill] (default: the nearest one above the "
                             "current directory, else $ALERTDRILL_CONFIG, else the defaults)")
    sub = parser.add_subparsers(dest="cmd", required=True)

    st = sub.add_parser("stack", help="bring the container stack up, show its status, take it down")
    st.add_argument("action", choices=["up", "status", "down"])
    st.add_argument("--factor", default=None, help=FACTOR_HELP)
    st.add_argument("--production", action="store_true", help="production timings (no compression); notifications still go to the local receivers")
    st.set_defaults(func=_stack_cmd)

    rd = sub.add_parser("render", help="render time-compressed copies of the rules and Alertmanager config")
    rd.add_argument("--factor", default=None, help=FACTOR_HELP)
    rd.add_argument("--out", required=True)
    rd.set_defaults(func=_render_cmd)

    rb = sub.add_parser("runbook", help="list the alerts a runbook names and their remediation actions")
    rb.add_argument("path", nargs="?", help="the runbook (default docs/runbook.md)")
    rb.set_defaults(func=_runbook_cmd)

    _add_adopt(sub)
    cv = sub.add_parser("coverage", help="per alert: rule, promtool tests, mutants, routing test, drill, runbook, last pass")
    cv.add_argument("--fail-on-gap", action="store_true", help="exit 1 when any alert has a gap (gate CI with it)")
    cv.add_argument("--artifacts", default=None, help="the drills' timelines (default: <state_dir>/timelines)")
    cv.add_argument("--no-check", action="store_true", help="count files without running `alertdrill check` first")
    cv.set_defaults(func=_coverage_cmd)

    rp = sub.add_parser("report", help="make the HTML report (and a Markdown summary) from timeline JSON files")
    rp.add_argument("dir", nargs="?", default=".alertdrill/timelines", help="folder of timelines (default .alertdrill/timelines)")
    rp.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default report.html)")
    rp.add_argument("--markdown", metavar="PATH", help="also write the Markdown summary there")
    rp.add_argument("--history", metavar="FILE", help="draw each alert's trend from this history (e.g. .alertdrill/history.jsonl)")
    rp.set_defaults(func=_report_cmd)

    gd = sub.add_parser("gameday", help="drills run by people at real timings against the running stack "
                                        "(--remediate human, --plan); see README 'A gameday, start to finish'")
    gameday.add_arguments(gd)
    gd.set_defaults(func=gameday.run)

    dr = sub.add_parser("drill", help="run the drills (pytest scenarios/); extra args go to pytest, e.g. -k RedisDisconnected")
    dr.add_argument("pytest_args", nargs=argparse.REMAINDER)
    dr.set_defaults(func=_drill_cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    from alertdrill import gameday

    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if argv[:1] == ["gameday"]:
        argv, extra = gameday.split_pytest_args(argv)
    at = _subcommand_at(argv)
    if at is not None and argv[at] == "drill":  # everything after it is pytest's, options too (-n 2, -k X)
        argv, rest = argv[:at + 1], argv[at + 1:]
        extra = rest[1:] if rest[:1] == ["--"] else rest
    args = parser.parse_args(argv)
    if extra:
        args.pytest_args = extra
    try:
        from alertdrill import config

        if args.cmd != "init":  # init writes the configuration it would read
            config.activate(config.load(args.config))
        return args.func(args)
    except (ConfigError, ValueError) as exc:
        print(f"alertdrill: error: {exc}", file=sys.stderr)
        return 2
    except StackError as exc:
        print(f"alertdrill: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("alertdrill: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
