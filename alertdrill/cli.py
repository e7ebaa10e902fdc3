"""`alertdrill`: bring the stack up, show it, take it down; render drill configs; run drills."""
from __future__ import annotations

import argparse
import sys

from alertdrill.errors import ConfigError, StackError


def _stack_cmd(args: argparse.Namespace) -> int:
    from alertdrill.alerting.profiles import drill_overrides
    from alertdrill.target.stack import Stack

    overrides = {} if args.production else drill_overrides(args.factor)
    stack = Stack(overrides)
    if args.action == "up":
        timing = "production timings" if args.production else f"drill timings (time compressed x{args.factor})"
        print(f"bringing the stack up with {timing}; first build takes a few minutes ...", flush=True)
        stack.up()
        print(stack.describe())
    elif args.action == "status":
        print(stack.describe())
        return 0 if stack.healthy() else 1
    elif args.action == "down":
        stack.down()
        print("stack down: containers, volumes and networks of project 'alertdrill' removed")
    return 0


def _render_cmd(args: argparse.Namespace) -> int:
    from alertdrill.alerting import timescale

    return timescale.main(["--factor", str(args.factor), "--out", args.out])


def _drill_cmd(args: argparse.Namespace) -> int:
    import pytest

    return pytest.main(["scenarios", *args.pytest_args])


def main(argv: list[str] | None = None) -> int:
    from alertdrill.alerting.profiles import DEFAULT_FACTOR

    parser = argparse.ArgumentParser(prog="alertdrill", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)

    st = sub.add_parser("stack", help="bring the container stack up, show its status, take it down")
    st.add_argument("action", choices=["up", "status", "down"])
    st.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                    help=f"time-compression factor of the drill timings (default {DEFAULT_FACTOR})")
    st.add_argument("--production", action="store_true", help="production timings (no compression)")
    st.set_defaults(func=_stack_cmd)

    rd = sub.add_parser("render", help="render time-compressed copies of the rules and Alertmanager config")
    rd.add_argument("--factor", type=float, default=DEFAULT_FACTOR)
    rd.add_argument("--out", required=True)
    rd.set_defaults(func=_render_cmd)

    dr = sub.add_parser("drill", help="run the drills (pytest scenarios/); extra args go to pytest, e.g. -k RedisDisconnected")
    dr.add_argument("pytest_args", nargs=argparse.REMAINDER)
    dr.set_defaults(func=_drill_cmd)

    args = parser.parse_args(argv)
    try:
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
