"""The drills of a project, each with every test that belongs to it, read from source (ast), never imported:

- a scenario module (`scenarios/test_<alert>.py`) whose AlertExpectation names the alert, or a quiet drill
  (`scenarios/test_quiet_<noise>.py`, a QuietExpectation), with its test functions (and so their
  parametrized variants);
- the rows of a broken-alerting table that name its module (`Case("<id>", test_<alert>, ...)` in a drill
  module outside the scenarios, `pytest.mark.drill`, that imports them): a row's id is the first string
  argument of a call whose second argument is the scenario module;
- the tests of a drill module outside the scenarios that imports that one scenario module and has no rows.

A drill's members select pytest items (`owns`) and make the pytest arguments that run them (`pytest_args`).
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

from alertdrill.adopt.sources import expected_alert
from alertdrill.config import Config

DRILL_MARK = "mark.drill"  # how a test module outside the scenarios says it runs drills
SKIP_DIRS = {"node_modules", "venv", "__pycache__", "build", "dist", "site-packages"}
_KEYWORD = re.compile(r"^[\w:+\-.\[\]\\/]+$")  # what pytest's -k takes as one word


@dataclass(frozen=True)
class Member:
    """One test of a drill: a test function of `path` (all its variants), or one row of a table."""
    path: Path
    test: str = ""  # the test function ("" for a row)
    row: str = ""  # the row's id, as its parametrized test shows it ("" for a test function)

    def owns(self, path: Path, name: str) -> bool:
        if Path(path).resolve() != self.path:
            return False
        if self.row:
            return f"[{self.row}]" in name
        return name.split("[", 1)[0] == self.test

    @property
    def keyword(self) -> str:
        return self.row or self.test


@dataclass(frozen=True)
class Drill:
    name: str  # the alert, or the quiet drill's test name without `test_` (quiet_hang_ups)
    alert: str | None  # None for a quiet drill
    path: Path  # its scenario module
    members: tuple[Member, ...]

    def owns(self, path: Path, name: str) -> bool:
        return any(m.owns(path, name) for m in self.members)


def _tree(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


def _tests(tree: ast.Module) -> list[str]:
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.name.startswith("test")]


def _is_quiet(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", "")) == "QuietExpectation"
               for n in ast.walk(tree))


def scenario_drills(conf: Config) -> dict[Path, list[Drill]]:
    """scenario module -> the drills it defines, with its own tests only."""
    out: dict[Path, list[Drill]] = {}
    for path in sorted(conf.scenarios.glob("*.py")) if conf.scenarios.is_dir() else []:
        tree = _tree(path)
        if tree is None:
            continue
        path = path.resolve()
        members = tuple(Member(path, t) for t in _tests(tree))
        alerts = list(dict.fromkeys(a for n in ast.walk(tree) if (a := expected_alert(n))))
        drills = [Drill(a, a, path, members) for a in alerts]
        if not alerts and _is_quiet(tree) and members:
            drills = [Drill(members[0].test.removeprefix("test_"), None, path, members)]
        if drills:
            out[path] = drills
    return out


def _test_modules(root: Path, scenarios: Path):
    """The test modules under root outside the scenarios folder (hidden and virtualenv folders skipped)."""
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS
                         and (Path(here) / d).resolve() != scenarios)
        for f in sorted(files):
            if f.startswith("test_") and f.endswith(".py"):
                yield Path(here, f).resolve()


def scenario_imports(tree: ast.Module, package: str, modules: dict[str, Path]) -> dict[str, Path]:
    """name bound in `tree` -> the scenario module it is (`from scenarios import test_x [as y]`)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == package and node.level == 0:
            out.update({a.asname or a.name: modules[a.name] for a in node.names if a.name in modules})
        elif isinstance(node, ast.Import):
            out.update({(a.asname or a.name): modules[a.name.split(".", 1)[1]] for a in node.names
                        if a.asname and a.name.startswith(package + ".") and a.name.split(".", 1)[1] in modules})
    return out


def rows(tree: ast.Module, names: dict[str, Path]) -> list[tuple[str, Path, ast.Call]]:
    """(row id, scenario module, the row's call) of every `Case("<id>", <scenario module>, ...)`."""
    return [(n.args[0].value, names[n.args[1].id], n) for n in ast.walk(tree)
            if isinstance(n, ast.Call) and len(n.args) >= 2 and isinstance(n.args[0], ast.Constant)
            and isinstance(n.args[0].value, str) and isinstance(n.args[1], ast.Name) and n.args[1].id in names]


def companions(conf: Config, modules: dict[str, Path]) -> dict[Path, list[Member]]:
    """scenario module -> the members it has outside the scenarios: table rows, and the tests of a module
    that imports it alone."""
    package = conf.scenarios.name
    out: dict[Path, list[Member]] = {}
    for path in _test_modules(conf.root, conf.scenarios.resolve()):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if package not in text or DRILL_MARK not in text:  # a fast test that reads a scenario is no drill
            continue
        tree = _tree(path)
        names = scenario_imports(tree, package, modules) if tree else {}
        found = rows(tree, names) if names else []
        for row_id, scenario, _call in found:
            out.setdefault(scenario, []).append(Member(path, row=row_id))
        if names and not found and len(set(names.values())) == 1:
            out.setdefault(next(iter(names.values())), []).extend(Member(path, t) for t in _tests(tree))
    return out


def project_drills(conf: Config) -> list[Drill]:
    """Every drill of the project with all of its members, in scenario order."""
    by_module = scenario_drills(conf)
    extra = companions(conf, {p.stem: p for p in by_module})
    return [Drill(d.name, d.alert, d.path, d.members + tuple(extra.get(path, ())))
            for path, drills in by_module.items() for d in drills]


def pytest_args(selected: list[Drill], every: list[Drill], root: Path, *, everything: bool) -> list[str]:
    """The pytest arguments that run `selected` (of `every` drill): their files, and a -k expression
    when not every drill is selected. -k matches by substring: a word that would also match a test not
    selected is replaced by the test's full name."""
    if not selected:
        return []
    rel = (lambda p: os.path.relpath(p, root))
    if everything:  # the scenario folders, and the drills' tests beside them
        folders = {d.path.parent for d in every}
        return sorted({rel(f) for f in folders} | {rel(m.path) for d in every for m in d.members
                                                  if m.path.parent not in folders})
    files = sorted({rel(m.path) for d in selected for m in d.members})
    others = [m.keyword.lower() for d in every if d not in selected for m in d.members]
    words: list[str] = []
    for d in selected:
        for m in d.members:
            short = m.test.removeprefix("test_") if m.test and m.path == d.path else m.keyword
            word = short if not any(short.lower() in o for o in others) else m.keyword
            if not any(w.lower() in word.lower() for w in words) and _KEYWORD.match(word):
                words.append(word)
    return [*files, "-k", " or ".join(words)]
