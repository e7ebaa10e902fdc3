"""The drill copy of the alerting configuration: render the time-compressed rules, Alertmanager
configuration and Prometheus settings into one directory, and say how the compose stack mounts them.

    cfg = render_drill_config(30)           # .alertdrill/drill-x30/
    cfg.env                                 # compose variables that mount the copies
    cfg.timings                             # the timing model the drills use (alertdrill.alerting.timings)
"""
from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alertdrill.alerting.timescale import (DEFAULT_FACTOR, DRILL_EVALUATION_INTERVAL, DRILL_SCRAPE_INTERVAL,
                                           FactorError, as_factor, fmt_factor, iter_rules, render_alertmanager,
                                           render_prometheus, render_rules, rule_files, validate_factor)
from alertdrill.alerting.delivery import LocalReceivers, deliver_locally
from alertdrill.alerting.timings import Timings
from alertdrill.config import current as current_config

__all__ = ["DrillConfig", "render_drill_config", "drill_dir", "main", "RUN_LABEL", "RUN_NONE", "group_by_run",
           "label_rules_with_run"]

# The label every rule of the drill copy puts on its alerts, set to the current drill before each drill
# (alertdrill.engine.monitoring); "none" until then.
RUN_LABEL = "alertdrill_run"
RUN_NONE = "none"


def drill_dir(factor: Any) -> Path:
    return current_config().state_dir / f"drill-x{fmt_factor(as_factor(factor))}"


@dataclass
class DrillConfig:
    """What render_drill_config wrote, and the timing model of the drill it is for."""
    timings: Timings
    out_dir: Path
    rules_files: list[Path]
    alertmanager_file: Path
    prometheus_file: Path | None
    notes: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """Environment for `docker compose -f docker-compose.test.yml up` so the stack runs the drill
        copies: the rules and Alertmanager directories it mounts, and Prometheus' intervals."""
        return {
            "ALERTDRILL_RULES_DIR": str(self.out_dir.resolve() / "rules"),
            "ALERTDRILL_ALERTMANAGER_DIR": str(self.out_dir.resolve() / "alertmanager"),
            **self.timings.compose_env,
        }

    @property
    def paths(self) -> list[Path]:
        return [*self.rules_files, self.alertmanager_file, self.out_dir / "alertmanager" / "alertmanager.yml",
                *([self.prometheus_file] if self.prometheus_file else [])]


RUN_NOTE = f"# Every alert also carries {RUN_LABEL}: the drill that raised it.\n"


def label_rules_with_run(rules_text: str, run: str = RUN_NONE) -> str:
    """The drill copy of the rules: every alerting rule also labels its alerts with the drill run, "none"
    when the copy is rendered and the drill's own before each drill (alertdrill.engine.monitoring), a
    rule added since the copy was rendered (a deliberate breakage) included; comment lines kept."""
    data = yaml.safe_load(rules_text) or {}
    for _group, rule in iter_rules(data):
        if rule.get("alert"):
            rule["labels"] = {**(rule.get("labels") or {}), RUN_LABEL: run}
    header = "".join(line + "\n" for line in rules_text.splitlines() if line.startswith("#"))
    return header + ("" if RUN_NOTE in header else RUN_NOTE) + yaml.safe_dump(
        data, sort_keys=False, width=10_000, allow_unicode=True, default_flow_style=False)


def group_by_run(alertmanager_text: str) -> str:
    """The drill copy of the routing also groups by the drill's run label, on every route that sets
    group_by (a route without one inherits its parent's): each drill's alert opens its own group."""
    data = yaml.safe_load(alertmanager_text)

    def walk(route: dict) -> None:
        group_by = route.get("group_by")
        if group_by and "..." not in group_by and RUN_LABEL not in group_by:
            route["group_by"] = [*group_by, RUN_LABEL]
        for child in route.get("routes") or []:
            walk(child)

    walk(data["route"])
    header = "".join(line + "\n" for line in alertmanager_text.splitlines() if line.startswith("#"))
    return header + f"# Grouped by {RUN_LABEL} too: each drill's alert opens its own group.\n" + yaml.safe_dump(
        data, sort_keys=False, width=10_000, allow_unicode=True, default_flow_style=False)


def _local_receivers() -> LocalReceivers:
    from alertdrill.target.settings import Endpoints

    return LocalReceivers.from_ports(Endpoints.from_env().ports)


def render_drill_config(factor: Any = DEFAULT_FACTOR, out_dir: str | Path | None = None, *,
                        rules_path: str | Path | list | None = None,
                        am_path: str | Path | None = None,
                        prom_path: str | Path | None = None,
                        scrape_interval: str = DRILL_SCRAPE_INTERVAL,
                        evaluation_interval: str = DRILL_EVALUATION_INTERVAL,
                        run_label: bool = True, deliver_to: LocalReceivers | None = None) -> DrillConfig:
    """Validate factor, then write out_dir/rules/<each rule file> (rules_path: a file or a directory of
    *.yml, or a list of files; default: the configured `rules`), out_dir/alertmanager.yml (default: the
    configured `alertmanager`; the same in out_dir/alertmanager/, the directory the compose file mounts)
    and, when prom_path is given (or the configured `prometheus` exists),
    out_dir/prometheus.yml at the drill scrape/evaluation interval. Nothing is written for an invalid
    factor. With run_label (the default) the rules label their alerts with the drill run and the routing
    groups by it, so each drill opens fresh Alertmanager groups; without it the copy is the pure time
    compression of the production files. Either way every notification goes to the local receivers
    (deliver_to; default: the alert sink's ports of this lane), by production's own receivers and
    templates (alertdrill.alerting.delivery)."""
    f = as_factor(factor)
    out = Path(out_dir) if out_dir is not None else drill_dir(f)
    conf = current_config() if rules_path is None or am_path is None or prom_path is None else None
    rules_path = list(conf.rules) if rules_path is None else rules_path
    am_path = Path(conf.alertmanager if am_path is None else am_path)
    texts = {p: p.read_text() for p in rule_files(rules_path)}
    notes: list[str] = []
    for text in texts.values():
        notes += validate_factor(f, text, scrape_interval, evaluation_interval)
    timings = Timings.from_files(f, rules_path, am_path, scrape_interval=scrape_interval,
                                 evaluation_interval=evaluation_interval)
    (out / "rules").mkdir(parents=True, exist_ok=True)
    cfg = DrillConfig(timings=timings, out_dir=out, rules_files=[], alertmanager_file=out / "alertmanager.yml",
                      prometheus_file=None, notes=notes)
    for i, (p, text) in enumerate(texts.items()):
        dest = out / "rules" / p.name
        if dest in cfg.rules_files:  # two rule files of one name from different folders
            dest = out / "rules" / f"{i:02d}-{p.name}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rendered = render_rules(text, f, source=str(p))
            dest.write_text(label_rules_with_run(rendered) if run_label else rendered)
        cfg.notes += [str(w.message) for w in caught]
        cfg.rules_files.append(dest)
    am_text = render_alertmanager(am_path.read_text(), f, source=str(am_path))
    am_text = group_by_run(am_text) if run_label else am_text
    am_text, delivery_notes = deliver_locally(am_text, deliver_to or _local_receivers(), out / "alertmanager", am_path)
    cfg.notes += delivery_notes
    cfg.alertmanager_file.write_text(am_text)
    # The compose file mounts a directory holding alertmanager.yml (ALERTDRILL_ALERTMANAGER_DIR), in place
    # of production's: the same file again in out_dir/alertmanager/, beside copies of production's files.
    (out / "alertmanager" / "alertmanager.yml").write_text(am_text)
    if prom_path is None and conf is not None and conf.prometheus is not None:
        prom_path = conf.prometheus
    if prom_path is not None:
        cfg.prometheus_file = out / "prometheus.yml"
        cfg.prometheus_file.write_text(render_prometheus(Path(prom_path).read_text(), scrape_interval,
                                                         evaluation_interval, source=str(prom_path)))
    return cfg


def main(argv: list[str] | None = None) -> int:
    """`alertdrill render --factor N --out DIR`: write the drill copies, print what was written."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "render":
        argv = argv[1:]
    ap = argparse.ArgumentParser(prog="alertdrill render",
                                 description="Render time-compressed drill copies of the alert rules and "
                                             "the Alertmanager configuration.")
    ap.add_argument("--factor", default=str(DEFAULT_FACTOR),
                    help=f"divide every duration by this (default {DEFAULT_FACTOR}; 1 = production)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--rules", default=None, nargs="*",
                    help="rule files or directories of rule files (default: the configured `rules`)")
    ap.add_argument("--alertmanager", default=None, help="alertmanager.yml (default: the configured one)")
    ap.add_argument("--prometheus", default=None,
                    help="prometheus.yml to copy at the drill intervals (default: the configured `prometheus`, if it exists)")
    ap.add_argument("--scrape-interval", default=DRILL_SCRAPE_INTERVAL)
    ap.add_argument("--evaluation-interval", default=DRILL_EVALUATION_INTERVAL)
    args = ap.parse_args(argv)
    try:
        cfg = render_drill_config(args.factor, args.out, rules_path=args.rules, am_path=args.alertmanager,
                                  prom_path=args.prometheus, scrape_interval=args.scrape_interval,
                                  evaluation_interval=args.evaluation_interval)
    except FactorError as e:
        print(f"alertdrill render: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"alertdrill render: {e}", file=sys.stderr)
        return 1
    t = cfg.timings
    print(f"factor {fmt_factor(t.factor)} (scrape {args.scrape_interval}, evaluation {args.evaluation_interval}):")
    for p in cfg.paths:
        print(f"  wrote {p}")
    for name in sorted(t.rules):
        print(f"  {name:34s} {t.describe(name)}")
    for note in cfg.notes:
        print(f"  note: {note}")
    print("  compose environment: " + " ".join(f"{k}={v}" for k, v in cfg.env.items()))
    return 0
