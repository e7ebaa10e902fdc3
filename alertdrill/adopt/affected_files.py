"""What one changed file selects, for `alertdrill affected` (alertdrill.adopt.affected compares the rules,
the routing and the runbook by meaning before this): a notification template, the configuration, the
compose file, the Prometheus configuration, the engine, the locustfiles, a conftest.py, a scenario or one
of its helpers, a broken-alerting table and its helpers, a file of a compose service, or nothing.

`change` is the affected module's view of the change (conf, changes, mounts, rel, labels, templates, yaml_pair) and
`out` what it has selected so far (every, everything, idle, add, select)."""
from __future__ import annotations

import ast
import fnmatch
import tomllib
from pathlib import Path

from alertdrill.adopt import layout, semantic
from alertdrill.adopt.drillset import rows, scenario_imports


def classify(change, path: Path, out) -> None:
    conf, rel = change.conf, change.rel(path)
    every = _every_drill(change, path)
    if _template(change, path, out):
        return
    if every:
        out.everything.append(f"{rel}: {every}")
    elif path.is_relative_to(conf.scenarios.resolve()):
        _scenario(change, path, out)
    elif not _tables(change, path, out):
        mounted = layout.mounted_at(path, change.mounts)
        if mounted:
            services = sorted({m.service for m in mounted})
            out.everything.append(f"{rel}: in the {mounted[0].kind} of compose service {', '.join(services)}")
        else:
            out.idle.append(f"{rel}: read by no drill")


def _every_drill(change, path: Path) -> str:
    """Why a change of `path` reaches every drill ("" when it does not)."""
    conf = change.conf
    if path == conf.source:
        return "the configuration changed" if config_changed(*_texts(change, path)) else ""
    if path == conf.compose_file:
        return "the compose file of the platform and its monitoring"
    if path == conf.prometheus:
        old, new = change.yaml_pair(path)
        return "the Prometheus configuration (scrape targets and intervals of every alert)" if old != new else ""
    if path.is_relative_to(conf.locustfiles.resolve()):
        return "a locustfile (the drills' workloads)"
    if any(path.is_relative_to(d) for d in layout.engine_dirs()):
        return "the engine (alertdrill and its pytest plugin)"
    if path.name == "conftest.py" and (path.parent == conf.root or path.is_relative_to(conf.scenarios.resolve())):
        return "pytest's configuration of the drills"
    if path.is_relative_to(conf.scenarios.resolve()) and path.suffix != ".py":
        return "a data file of the scenarios"
    return ""


def _texts(change, path: Path) -> tuple[str | None, str | None]:
    return change.changes.old(path), change.changes.new(path)


def config_changed(old: str | None, new: str | None) -> bool:
    try:
        return tomllib.loads(old or "") != tomllib.loads(new or "")
    except tomllib.TOMLDecodeError:
        return True


def _template(change, path: Path, out) -> bool:
    """A notification template of the routing: every alert that reaches a receiver rendering templates."""
    am, globs = change.templates
    if not any(fnmatch.fnmatch(str(path), g) for g in globs):
        return False
    templated = semantic.templated_receivers(am)
    for alert, labels in change.labels.items():
        uses = sorted(set(semantic.reached(am, labels)) & templated)
        if uses:
            out.add(alert, f"the notification template {change.rel(path)} changed and its receivers "
                           f"{', '.join(uses)} render templates (any templated receiver counts)")
    return True


def _scenario(change, path: Path, out) -> None:
    """A scenario module: its drills; a helper of the scenarios: the drills whose modules import it."""
    rel, scenarios = change.rel(path), change.conf.scenarios
    own = [d for d in out.every if d.path == path]
    users = layout.importers(scenarios, layout.module_name(path, scenarios)) if not own else set()
    why = f"its scenario {rel} changed" if own else f"{rel}, which its scenario imports, changed"
    chosen = own or [d for d in out.every if d.path in users]
    for d in chosen:
        out.select(d, why)
    if not chosen:
        out.idle.append(f"{rel}: no scenario is or imports it")


def table_changes(old: str | None, new: str | None, package: str, modules: dict[str, Path]) -> tuple[set[Path], bool]:
    """(the scenario modules whose rows differ, whether anything besides the rows differs) between two
    versions of a broken-alerting table."""
    def view(text: str):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return {}, text
        segments = {row_id: (scenario, ast.get_source_segment(text, call))
                    for row_id, scenario, call in rows(tree, scenario_imports(tree, package, modules))}
        rest = text
        for _scenario, seg in segments.values():
            rest = rest.replace(seg or "", "", 1)
        return segments, rest

    (a, rest_a), (b, rest_b) = view(old or ""), view(new or "")
    changed = {v[0] for k in set(a) | set(b) if a.get(k) != b.get(k) for v in (a.get(k), b.get(k)) if v}
    return changed, rest_a != rest_b


def _tables(change, path: Path, out) -> bool:
    """A broken-alerting table (the drills of the rows that changed), a helper beside it (every drill with
    a row there) or a test module of one scenario (its drill). False: none of these."""
    rel = change.rel(path)
    owners = [d for d in out.every if any(m.path == path for m in d.members)]
    tables = {m.path for d in out.every for m in d.members if m.row}
    if path in tables:
        package = change.conf.scenarios.name
        changed, rest = table_changes(*_texts(change, path), package, {d.path.stem: d.path for d in out.every})
        chosen = owners if rest else [d for d in owners if d.path in changed]
        why = (f"the broken-alerting table {rel} changed outside its rows" if rest
               else f"its broken-alerting row in {rel} changed")
    elif owners:
        chosen, why = owners, f"{rel}, a test of its scenario, changed"
    else:
        near = sorted(t for t in tables if t.parent == path.parent)
        if path.suffix != ".py" or not near:
            return False
        chosen = [d for d in out.every if any(m.path in near for m in d.members)]
        why = f"{rel}, beside the broken-alerting table {change.rel(near[0])}, changed"
    for d in chosen:
        out.select(d, why)
    if not chosen:
        out.idle.append(f"{rel}: no row's meaning changed")
    return True
