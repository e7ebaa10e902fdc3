"""What a change holds, as git sees it: the files that differ between the merge base of a ref and HEAD
(`git merge-base REF HEAD`, the point the branch left REF, as a pull request's diff is taken) and the
working tree, staged, unstaged and untracked alike; and each file's text on both sides.

    changes = since(root, "origin/main")
    changes.paths              # absolute paths of the files that differ
    changes.old(path)          # its text at the merge base (None: it did not exist)
    changes.new(path)          # its text in the working tree (None: it is gone)

So a pull request's job (a clean checkout of its head) sees the pull request's diff, and a person sees
their commits and their uncommitted edits together. A ref git does not know raises BadBase, which says
what was given, what git answered and what to try.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from alertdrill.proc import run

GIT_TIMEOUT_S = 60.0


class BadBase(ValueError):
    """The base ref is not a commit of this repository, or the repository cannot be read."""


def _git(top: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return run(["git", *args], timeout=GIT_TIMEOUT_S, cwd=top)
    except FileNotFoundError:
        raise BadBase("git is not installed here: `alertdrill affected` compares commits with git; "
                      "install git, or run every drill") from None


def _toplevel(root: Path) -> Path:
    p = _git(root, "rev-parse", "--show-toplevel")
    if p.returncode != 0:
        raise BadBase(f"{root} is not inside a git repository (`git rev-parse --show-toplevel` said: "
                      f"{p.stderr.strip()}); run it in the checkout of the project")
    return Path(p.stdout.strip()).resolve()


@dataclass(frozen=True)
class Changes:
    top: Path  # the repository's top-level directory
    base: str  # the ref as given
    merge_base: str  # the commit compared against
    paths: tuple[Path, ...]  # absolute, sorted

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.top).as_posix()

    def old(self, path: Path) -> str | None:
        p = _git(self.top, "show", f"{self.merge_base}:{self.rel(path)}")
        return p.stdout if p.returncode == 0 else None

    def new(self, path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None


def since(root: Path, base: str) -> Changes:
    """The files that differ between the merge base of `base` and HEAD and the working tree of the
    repository holding `root`."""
    top = _toplevel(root)
    ok = base.strip() and not base.startswith("-")  # never an option of git's
    p = _git(top, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}") if ok else None
    if p is None or p.returncode != 0:
        raise BadBase(f"--base {base!r} is not a commit of the repository {top}: `git rev-parse --verify "
                      f"{base}^{{commit}}` failed{': ' + p.stderr.strip() if p and p.stderr.strip() else ''}. Expected a "
                      "branch, tag or commit (origin/main, HEAD~1, a SHA); in CI fetch it first "
                      "(`git fetch origin main`, or check out with the full history)")
    commit = p.stdout.strip()
    mb = _git(top, "merge-base", commit, "HEAD")
    if mb.returncode != 0:
        raise BadBase(f"--base {base!r} ({commit[:12]}) and HEAD share no history: `git merge-base {base} HEAD` "
                      f"failed{': ' + mb.stderr.strip() if mb.stderr.strip() else ''}. A shallow clone cuts it: "
                      "fetch more history (`git fetch --unshallow`, or fetch-depth: 0)")
    merge_base = mb.stdout.strip()
    diff = _git(top, "diff", "--name-only", "--no-renames", "-z", merge_base, "--")
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z")
    for done in (diff, untracked):
        if done.returncode != 0:
            raise BadBase(f"`{' '.join(done.args)}` failed in {top}: {done.stderr.strip()}")
    names = {n for n in (diff.stdout + untracked.stdout).split("\0") if n}
    return Changes(top, base, merge_base, tuple(sorted(top / n for n in names)))
