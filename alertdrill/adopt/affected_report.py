"""What `alertdrill affected` prints (a line per selected drill with why, the pytest command; or JSON) and
what a pytest run with --affected-since says in its header. The selection is alertdrill.adopt.affected's."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from alertdrill.adopt.affected import Affected, affected
from alertdrill.adopt.drillset import Drill
from alertdrill.config import Config

DESCRIPTION = ("the drills a change since REF can affect, each with why, and the pytest arguments that run "
               "them: the merge base of REF and HEAD against the working tree (staged, unstaged, untracked)")


def add_arguments(ap) -> None:
    ap.add_argument("--base", required=True, metavar="REF", help="what the change is compared with: a branch, "
                    "tag or commit (origin/main on a pull request, HEAD~1 for the last commit)")
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the selection as JSON (one object)")
    out.add_argument("--pytest-args", action="store_true", help="print only the pytest arguments, shell-quoted "
                     "on one line (nothing when no drill is affected)")


def _members(drill: Drill) -> str:
    own = [f"{m.path.name}::{m.test}" for m in drill.members if m.path == drill.path]
    others = [m for m in drill.members if m.path != drill.path]
    rows = sum(bool(m.row) for m in others)
    more = ([f"{rows} broken-alerting row(s)"] if rows else []) + (
        [f"{len(others) - rows} more test(s)"] if len(others) > rows else [])
    return ", ".join(own + more)


def lines(found: Affected, root: Path) -> list[str]:
    """What `alertdrill affected` prints: the change, every selected drill with why, the pytest command."""
    out = [f"alertdrill affected: {len(found.changed)} changed file(s) since {found.base} "
           f"(merge base {found.merge_base[:12]})"]
    if found.everything:
        out.append("every drill is affected:")
        out += [f"  {why}" for why in found.everything[:8]]
        out += [f"  ... and {len(found.everything) - 8} more"] if len(found.everything) > 8 else []
    for d in found.selected:
        out.append(f"{d.name} ({_members(d)}): {'; '.join(found.reasons(d))}")
    out += [f"{a} (no drill: no scenario expects it): {'; '.join(why)}" for a, why in found.undrilled().items()]
    out += [f"selects nothing: {why}" for why in found.idle]
    args = found.pytest_args(root)
    out.append(f"run them: pytest {shlex.join(args)}" if args else "no drill is affected")
    return out


def header(found: Affected) -> list[str]:
    """What a pytest run with --affected-since REF says first: how many drills run, and why each one."""
    chosen = found.selected
    out = [f"alertdrill: --affected-since {found.base}: {len(chosen)} drills selected, "
           f"{len(found.every) - len(chosen)} deselected (merge base {found.merge_base[:12]}, "
           f"{len(found.changed)} changed file(s))"]
    out += [f"  every drill: {why}" for why in found.everything[:8]]
    out += [f"  {d.name}: {'; '.join(found.reasons(d))}" for d in chosen if not found.everything]
    return out


def as_dict(found: Affected, root: Path) -> dict:
    return {"base": found.base, "merge_base": found.merge_base, "changed": found.changed,
            "every_drill": found.everything,
            "drills": [{"drill": d.name, "alert": d.alert, "scenario": str(d.path.relative_to(root)),
                        "reasons": found.reasons(d),
                        "tests": [str(m.path.relative_to(root)) + (f"::{m.test}" if m.test else f"[{m.row}]")
                                  for m in d.members]} for d in found.selected],
            "undrilled": found.undrilled(), "selects_nothing": found.idle, "pytest_args": found.pytest_args(root)}


def main(args, conf: Config) -> int:
    """`alertdrill affected`: exit 0 (whatever is selected), 2 for a ref git does not know (a ValueError
    the command line reports)."""
    found = affected(conf, args.base)
    if args.json:
        print(json.dumps(as_dict(found, conf.root), indent=2))
    elif args.pytest_args:
        args_ = found.pytest_args(conf.root)
        if args_:
            print(shlex.join(args_))
    else:
        print("\n".join(lines(found, conf.root)))
    return 0
