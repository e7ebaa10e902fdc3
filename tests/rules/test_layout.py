"""The package's shape, held: alertdrill/ knows no platform (the reference platform's knowledge lives in
scenarios/platform/), no function runs past 60 lines, and the runner stays under 300."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = [*sorted((ROOT / "alertdrill").rglob("*.py")), *sorted((ROOT / "fixtures").rglob("*.py"))]
# The reference platform's vocabulary: its database, its services, its payments, its traffic and API.
PLATFORM = re.compile(r"trading_signals|signal-generator|[Ss]tripe|payment|CustomerTraffic|PlatformClient|/api/v1")
# ... but for Prometheus' own HTTP API, which the suite reads whatever the platform.
PROMETHEUS_API = re.compile(r"/api/v1/(query|query_range|alerts|rules|status/config|targets)\b|/api/v1/query\(")


def test_the_package_knows_no_platform():
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in PACKAGE
             for n, line in enumerate(p.read_text().splitlines(), 1)
             if PLATFORM.search(PROMETHEUS_API.sub("", line))]
    assert not found, "the reference platform in the package (it belongs in scenarios/platform/):\n" + "\n".join(found)


def test_no_function_runs_past_60_lines():
    long = [f"{p.relative_to(ROOT)}: {n.name} ({n.end_lineno - n.lineno + 1} lines)" for p in PACKAGE
            for n in ast.walk(ast.parse(p.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, "split these: " + "; ".join(long)


def test_the_runner_stays_small():
    lines = len((ROOT / "alertdrill" / "engine" / "drill.py").read_text().splitlines())
    assert lines < 300, f"alertdrill/engine/drill.py has {lines} lines: what a phase does goes beside it"


def _imports(module: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules `module` imports, anywhere in it (type-only and in-function imports too)."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named = {f"{node.module}.{a.name}" for a in node.names} & set(modules)
            found |= named or ({node.module} & set(modules))
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names} & set(modules)
    return found


def test_the_package_has_no_import_circle():
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (ROOT / "alertdrill").rglob("*.py")}
    graph = {m: _imports(p, modules) - {m} for m, p in modules.items()}
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> list[str] | None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n] if n in path else [m, n]
            if n not in state and (circle := visit(n, path + [n])):
                return circle
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (circle := visit(m, [m])):
            raise AssertionError("import circle: " + " -> ".join(circle))
