"""Where a project's files sit, as far as the drills depend on them: the compose file's build contexts and
bind mounts (the platform's code, the monitoring's images and mounted files, and where a container path
such as /etc/alertmanager/src lies on this machine), the engine's own source when it is in the checkout,
the scenarios' helper modules and which scenarios import them."""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

import alertdrill

_DEFAULTED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}")
_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


@dataclass(frozen=True)
class Mounted:
    service: str
    kind: str  # "build context" | "bind mount"
    host: Path  # on this machine
    container: str = ""  # where a bind mount appears inside the container


def _host_path(raw: str, base: Path) -> Path | None:
    """A compose path with its `${VAR:-default}`s at their defaults; None when a variable has none."""
    text = _DEFAULTED.sub(lambda m: m.group(1), raw)
    if _VARIABLE.search(text):
        return None
    return (base / os.path.expanduser(text)).resolve()


def _volumes(service: str, spec: dict, base: Path) -> list[Mounted]:
    out = []
    for v in spec.get("volumes") or []:
        short = _DEFAULTED.sub(lambda m: m.group(1), str(v))  # "${DIR:-./x}:/etc/x:ro" -> "./x:/etc/x:ro"
        src, dst = (v.get("source"), v.get("target")) if isinstance(v, dict) else (short.split(":") + [""])[:2]
        if src and str(src).startswith((".", "/", "~", "$")):  # a path, not a named volume
            host = _host_path(str(src), base)
            if host is not None:
                out.append(Mounted(service, "bind mount", host, str(dst or "")))
    return out


def compose_mounts(compose_file: Path) -> list[Mounted]:
    """Every build context and bind-mounted path of the compose file's services (unreadable: none)."""
    try:
        doc = yaml.safe_load(compose_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []
    base = compose_file.parent
    out = []
    for service, spec in (doc.get("services") or {}).items() if isinstance(doc, dict) else []:
        if not isinstance(spec, dict):
            continue
        build = spec.get("build")
        context = build.get("context", ".") if isinstance(build, dict) else build
        host = _host_path(str(context), base) if context else None
        if host is not None:
            out.append(Mounted(str(service), "build context", host))
        out += _volumes(str(service), spec, base)
    return out


def mounted_at(path: Path, mounts: list[Mounted]) -> list[Mounted]:
    path = path.resolve()
    return [m for m in mounts if path == m.host or path.is_relative_to(m.host)]


def path_map(mounts: list[Mounted]) -> dict[str, Path]:
    """container path -> the directory on this machine, for every bind-mounted directory."""
    return {m.container: m.host for m in mounts if m.kind == "bind mount" and m.container}


def engine_dirs() -> list[Path]:
    """The engine's source (the alertdrill package, and its pytest plugin beside it in a checkout of
    alertdrill itself)."""
    package = Path(alertdrill.__file__).resolve().parent
    plugin = package.parent / "fixtures"
    return [package, *([plugin] if (plugin / "plugin.py").is_file() else [])]


def module_name(path: Path, scenarios: Path) -> str:
    parts = path.resolve().relative_to(scenarios.resolve().parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def _imported(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    found: set[str] = set()
    package = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package[:len(package) - (node.level - 1)]
                base = ".".join(head + ([node.module] if node.module else []))
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return found | {".".join(n.split(".")[:i]) for n in found for i in range(1, n.count(".") + 1)}  # packages run too


def importers(scenarios: Path, changed: str) -> set[Path]:
    """The modules of the scenarios folder that import the module `changed` (dotted), directly or not."""
    graph: dict[str, tuple[Path, set[str]]] = {}
    for path in sorted(scenarios.rglob("*.py")) if scenarios.is_dir() else []:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        name = module_name(path, scenarios)
        graph[name] = (path.resolve(), _imported(tree, name, path.name == "__init__.py"))
    reach, todo = {changed}, [changed]
    while todo:
        target = todo.pop()
        for name, (_path, imports) in graph.items():
            if name not in reach and target in imports:
                reach.add(name)
                todo.append(name)
    return {graph[n][0] for n in reach if n in graph and n != changed}
