"""`alertdrill init`: adopt alertdrill in a repository that has alert rules and a runbook.

1. finds the rules, the Alertmanager configuration, the runbook and the compose file (or takes them
   from the options), and writes `[tool.alertdrill]` into pyproject.toml (created if missing; an
   existing table is left alone, but for a missing drill_factor): every compose service, and the largest
   drill factor the rule windows allow (alertdrill.alerting.timescale.recommended_factor);
2. drafts into the runbook what it lacks, each under a DRAFT marker (alertdrill.adopt.runbook_drafts): a
   section per alert it does not name, and the promise tables from the rules and alertmanager.yml;
3. prints the runbook_url annotation each rule lacks (it never edits the rule files);
4. for every alert of the rules that has a runbook section but no drill, writes
   `<scenarios>/test_<alert>.py`: EXPECTATION filled from the rule (severity, the watched expression and
   its threshold) and the routing (its receivers, by amtool when installed), a run(d, ctx) that reads
   like the runbook section (its investigation commands run as written), and in place of the fault a
   `raise FaultNotWritten(...)` that fails the drill saying what to write. `alertdrill coverage` lists such
   a drill as a gap until it is written.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from alertdrill import config as adconfig
from alertdrill.adopt import compose, sources
from alertdrill.adopt import receivers as routing
from alertdrill.adopt.runbook_drafts import draft_runbook
from alertdrill.adopt.templates import config_block, scenario
from alertdrill.alerting import timescale

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", ".alertdrill", "__pycache__", ".tox", "build", "dist"}


def _files(root: Path, patterns: list[str]) -> list[Path]:
    found = []
    for pattern in patterns:
        for p in sorted(root.glob(pattern)):
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(root).parts):
                found.append(p)
    return list(dict.fromkeys(found))


def _is_rules(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and any(
        isinstance(g, dict) and any(isinstance(r, dict) and "alert" in r for r in g.get("rules") or [])
        for g in data.get("groups") or [])


def discover(root: Path) -> dict[str, str]:
    """The repository's files, relative to root: rules (as globs of their folders), alertmanager,
    prometheus, runbook, compose_file. A missing one is left out (the defaults then apply, and say what is wrong)."""
    out: dict[str, object] = {}
    rules = [p for p in _files(root, ["**/*.yml", "**/*.yaml"]) if _is_rules(p)]
    if rules:
        dirs = dict.fromkeys(p.parent for p in rules)
        out["rules"] = [str((d.relative_to(root) / "*.yml").as_posix()) for d in dirs]
    am = _files(root, ["**/alertmanager.yml", "**/alertmanager.yaml"])
    prometheus = _files(root, ["**/prometheus.yml", "**/prometheus.yaml"])
    runbooks = _files(root, ["**/runbook*.md", "**/RUNBOOK*.md", "**/runbooks/*.md"])
    compose = _files(root, ["compose.yml", "compose.yaml", "docker-compose*.yml", "docker-compose*.yaml"])
    for key, found in (("alertmanager", am), ("prometheus", prometheus), ("runbook", runbooks),
                       ("compose_file", compose)):
        if found:
            out[key] = found[0].relative_to(root).as_posix()
    return out  # type: ignore[return-value]


def write_config(root: Path, found: dict, force: bool = False) -> tuple[Path, bool]:
    """Append [tool.alertdrill] to root/pyproject.toml; (path, written). Left alone if present."""
    py = root / "pyproject.toml"
    text = py.read_text() if py.exists() else ""
    if "[tool.alertdrill]" in text and not force:
        return py, False
    services = compose.read(root, found.get("compose_file"))
    block = config_block(found, compose=services, project=_project(root, found), factor=_factor(root, found))
    py.write_text(text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "") + block)
    return py, True


def _project(root: Path, found: dict) -> str:
    """The compose file's project name, else the repository folder's."""
    data = yaml.safe_load((root / found["compose_file"]).read_text()) if found.get("compose_file") else {}
    return (data or {}).get("name") or re.sub(r"[^a-z0-9-]+", "-", root.name.lower()).strip("-") or "platform"


def _factor(root: Path, found: dict) -> tuple[int, str]:
    globs = found.get("rules") or []
    return timescale.recommended_factor(p.read_text() for p in adconfig._glob(root, list(globs)))


def add_factor(py: Path, conf: adconfig.Config) -> str | None:
    """An existing [tool.alertdrill] without drill_factor gets one (a line under its header), unless pytest's
    ini options set it; what was done, or None."""
    if conf.drill_factor is not None or conf.source is None:
        return None
    _value, where = adconfig.drill_factor(conf)
    if where != "the default":
        return f"drill_factor is set in {where}: move it to [tool.alertdrill], where the CLI reads it too"
    factor, why = timescale.recommended_factor(p.read_text() for p in conf.rules)
    text = py.read_text()
    py.write_text(text.replace("[tool.alertdrill]\n", f"[tool.alertdrill]\ndrill_factor = {factor}  # {why}\n", 1))
    return f"added drill_factor = {factor} to [tool.alertdrill] of {py}"


def scaffold(conf: adconfig.Config) -> list[Path]:
    """Write a skeleton scenario for every alert with a runbook section and no drill; returns them."""
    rules, drills, runbook = sources.alert_rules(conf), sources.drills(conf), sources.runbook(conf)
    from alertdrill.runbook.parse import parse_runbook

    rb = parse_runbook(conf.runbook) if runbook else None
    conf.scenarios.mkdir(parents=True, exist_ok=True)
    written = []
    for alert, rule in rules.items():
        if alert in drills or alert not in runbook or rb is None:
            continue
        labels = {"alertname": alert, **{k: str(v) for k, v in (rule.get("labels") or {}).items()}}
        got = routing.receivers_for(conf.alertmanager, labels)
        path = conf.scenarios / f"test_{_snake(alert)}.py"
        path.write_text(scenario(alert, rule, got, rb.section(alert), conf.runbook.name))
        written.append(path)
    return written


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


DESCRIPTION = __doc__.split("\n\n")[0]


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--root", default=".", help="the repository (default: the current directory)")
    for key in ("rules", "alertmanager", "prometheus", "runbook", "compose-file"):
        ap.add_argument(f"--{key}", default=None, help=f"the {key.replace('-', ' ')} (default: found in the repository)")
    ap.add_argument("--force", action="store_true", help="append [tool.alertdrill] even if one exists")
    ap.add_argument("--with-monitoring", action="store_true",
                    help="add Prometheus, Alertmanager and the alert sink (alertdrill's images) to the compose file")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    found = discover(root)
    for key in ("rules", "alertmanager", "prometheus", "runbook", "compose_file"):
        value = getattr(args, key)
        if value:
            found[key] = [value] if key == "rules" else value
    if args.with_monitoring:
        for line in _with_monitoring(root, found):
            print(line)
    py, wrote = write_config(root, found, args.force)
    print(f"{'wrote' if wrote else 'kept the existing'} [tool.alertdrill] in {py}")
    conf = adconfig.load(py)  # validates: a missing file is named with its key
    added = None if wrote else add_factor(py, conf)
    if added:
        print(added)
        conf = adconfig.load(py)
    adconfig.activate(conf)
    for line in draft_runbook(conf) + runbook_urls(conf):
        print(line)
    for path in scaffold(conf):
        print(f"wrote {path.relative_to(root)}: write its fault, then `pytest {path.relative_to(root)}`")
    print("next: review what is marked DRAFT in the runbook and delete each marker; `alertdrill check` lists "
          "what is left, `alertdrill coverage` what each alert still lacks")
    return 0


def _with_monitoring(root: Path, found: dict) -> list[str]:
    from alertdrill.adopt import withmonitoring

    if not found.get("compose_file"):
        return ["--with-monitoring: no compose file found: pass --compose-file"]
    return withmonitoring.add(root / str(found["compose_file"]), found,
                              re.sub(r"[^a-z0-9-]+", "-", _project(root, found).lower()).strip("-"))


def runbook_urls(conf: adconfig.Config) -> list[str]:
    """The runbook_url annotation each rule lacks or has wrong, as `alertdrill check` names it; written to
    <state_dir>/init/runbook_urls.txt too. The rule files are not edited."""
    from alertdrill.adopt.check.links import link_check
    from alertdrill.adopt.check.model import Project

    lines = [f"{p.where}: {p.change}" for p in link_check(Project(conf))]
    out = conf.state_dir / "init" / "runbook_urls.txt"
    if lines:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
        return [f"runbook_url: {len(lines)} rule(s) to change (also in {out}); alertdrill edits no rule file:"] + \
            [f"  {line}" for line in lines]
    if out.exists():
        out.unlink()
    return ["runbook_url: every rule's leads to its section"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="alertdrill init", description=DESCRIPTION)
    add_arguments(ap)
    return run(ap.parse_args(argv))
