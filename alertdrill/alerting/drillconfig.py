"""The drill copy of the alerting configuration on disk: run the drill-copy pipelines
(alertdrill.alerting.drillcopy) over the configured rules, Alertmanager and Prometheus files into one
directory, and say how the compose stack mounts them.

    cfg = render_drill_config(30)           # .alertdrill/drill-x30/
    cfg.env                                 # compose variables that mount the copies
    cfg.timings                             # the timing model the drills use (alertdrill.alerting.timings)
"""
from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping

from alertdrill.alerting import drillcopy
from alertdrill.alerting.delivery import LocalReceivers
from alertdrill.alerting.drillcopy import RUN_LABEL, RUN_NONE
from alertdrill.alerting.timescale import (DEFAULT_FACTOR, DRILL_EVALUATION_INTERVAL, DRILL_SCRAPE_INTERVAL,
                                           FactorError, as_factor, fmt_factor, rule_files, validate_factor)
from alertdrill.alerting.timings import Timings
from alertdrill.config import current as current_config

__all__ = ["DrillConfig", "render_drill_config", "drill_dir", "main", "RUN_LABEL", "RUN_NONE"]


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
        copies: the rules, Alertmanager and Prometheus directories it mounts, and Prometheus' resend delay."""
        return {
            "ALERTDRILL_RULES_DIR": str(self.out_dir.resolve() / "rules"),
            "ALERTDRILL_ALERTMANAGER_DIR": str(self.out_dir.resolve() / "alertmanager"),
            **({"ALERTDRILL_PROMETHEUS_DIR": str(self.prometheus_file.parent.resolve())} if self.prometheus_file else {}),
            **self.timings.compose_env,
        }

    @property
    def paths(self) -> list[Path]:
        return [*self.rules_files, self.alertmanager_file, self.out_dir / "alertmanager" / "alertmanager.yml",
                *([self.prometheus_file] if self.prometheus_file else [])]


def _lane_ports() -> dict[str, int]:
    from alertdrill.target.settings import Endpoints

    return dict(Endpoints.from_env().ports)


def _write_rules(cfg: DrillConfig, texts: dict[Path, str], f: Fraction, run_label: bool) -> None:
    (cfg.out_dir / "rules").mkdir(parents=True, exist_ok=True)
    for i, (p, text) in enumerate(texts.items()):
        dest = cfg.out_dir / "rules" / p.name
        if dest in cfg.rules_files:  # two rule files of one name from different folders
            dest = cfg.out_dir / "rules" / f"{i:02d}-{p.name}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dest.write_text(drillcopy.rules_copy(text, f, run_label=run_label, source=str(p)))
        cfg.notes += [str(w.message) for w in caught]
        cfg.rules_files.append(dest)


def _write_routing(cfg: DrillConfig, am_path: Path, f: Fraction, run_label: bool, ports: Mapping[str, int]) -> None:
    am_text, notes = drillcopy.routing_copy(am_path.read_text(), f, LocalReceivers.from_ports(ports),
                                            cfg.out_dir / "alertmanager", am_path, run_label=run_label)
    cfg.notes += notes
    cfg.alertmanager_file.write_text(am_text)
    # The compose file mounts a directory holding alertmanager.yml (ALERTDRILL_ALERTMANAGER_DIR), in place
    # of production's: the same file again in out_dir/alertmanager/, beside copies of production's files.
    (cfg.out_dir / "alertmanager" / "alertmanager.yml").write_text(am_text)


def _write_prometheus(cfg: DrillConfig, prom_path: Path, ports: Mapping[str, int], scrape_interval: str,
                      evaluation_interval: str) -> None:
    cfg.prometheus_file = cfg.out_dir / "prometheus" / "prometheus.yml"
    cfg.prometheus_file.parent.mkdir(parents=True, exist_ok=True)
    cfg.prometheus_file.write_text(drillcopy.prometheus_copy(prom_path.read_text(), ports, scrape_interval,
                                                             evaluation_interval, source=str(prom_path)))


def render_drill_config(factor: Any = DEFAULT_FACTOR, out_dir: str | Path | None = None, *,
                        rules_path: str | Path | list | None = None,
                        am_path: str | Path | None = None,
                        prom_path: str | Path | None = None,
                        scrape_interval: str = DRILL_SCRAPE_INTERVAL,
                        evaluation_interval: str = DRILL_EVALUATION_INTERVAL,
                        run_label: bool = True, ports: Mapping[str, int] | None = None) -> DrillConfig:
    """Validate factor, then write the drill copies (alertdrill.alerting.drillcopy's pipelines):
    out_dir/rules/<each rule file> (rules_path: a file or a directory of *.yml, or a list of files;
    default: the configured `rules`); out_dir/alertmanager.yml (default: the configured `alertmanager`),
    the same in out_dir/alertmanager/ beside production's templates and key files; and, when prom_path is
    given (or the configured `prometheus` exists), out_dir/prometheus/prometheus.yml at the drill
    scrape/evaluation intervals. Nothing is written for an invalid factor. With run_label (the default)
    the rules label their alerts with the drill run and the routing groups by it, so each drill opens fresh
    Alertmanager groups. Either way every notification goes to the local receivers, and the ports are the
    lane's (`ports`; default: this process's environment and configuration)."""
    f = as_factor(factor)
    out = Path(out_dir) if out_dir is not None else drill_dir(f)
    conf = current_config() if rules_path is None or am_path is None or prom_path is None else None
    rules_path = list(conf.rules) if rules_path is None else rules_path
    am_path = Path(conf.alertmanager if am_path is None else am_path)
    if prom_path is None and conf is not None and conf.prometheus is not None:
        prom_path = conf.prometheus
    texts = {p: p.read_text() for p in rule_files(rules_path)}
    notes: list[str] = []
    for text in texts.values():
        notes += validate_factor(f, text, scrape_interval, evaluation_interval)
    timings = Timings.from_files(f, rules_path, am_path, scrape_interval=scrape_interval,
                                 evaluation_interval=evaluation_interval)
    ports = _lane_ports() if ports is None else ports
    cfg = DrillConfig(timings=timings, out_dir=out, rules_files=[], alertmanager_file=out / "alertmanager.yml",
                      prometheus_file=None, notes=notes)
    _write_rules(cfg, texts, f, run_label)
    _write_routing(cfg, am_path, f, run_label, ports)
    if prom_path is not None:
        _write_prometheus(cfg, Path(prom_path), ports, scrape_interval, evaluation_interval)
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
