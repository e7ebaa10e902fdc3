"""The configuration against the platform: every `[tool.alertdrill.services]` entry is a service of the
compose file and names a port variable of `[tool.alertdrill.ports]` that the compose file uses; the drill
factor keeps enough scrapes in every rule window (alertdrill.alerting.timescale.validate_factor); production's
Prometheus file scrapes and evaluates as the runbook's pipeline table says (alertdrill.alerting.production)."""
from __future__ import annotations

import yaml

from alertdrill.adopt.check.model import Problem, Project

TABLE = "[tool.alertdrill.services]"


def service_problems(project: Project) -> list[Problem]:
    conf = project.conf
    if not conf.services:
        return []
    where = project.rel(conf.source) if conf.source else "the defaults"
    compose = project.rel(conf.compose_file)
    try:
        text = conf.compose_file.read_text()
        declared = set((yaml.safe_load(text) or {}).get("services") or {})
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        return [Problem("services", f"{where} {TABLE}", f"a compose file ({compose}) declaring its services",
                        f"it cannot be read: {exc}", "fix compose_file in [tool.alertdrill]")]
    out = []
    for service, var in conf.services.items():
        if service not in declared:
            out.append(Problem("services", f"{where} {TABLE} {service}", f"a service of {compose}",
                               f"{compose} declares {', '.join(sorted(declared)) or 'no service'}",
                               "rename the entry to the compose service's name, or remove it"))
        if var not in conf.ports:
            out.append(Problem("services", f"{where} {TABLE} {service}", "a port variable of [tool.alertdrill.ports]",
                               f"{var!r}", f"add {var} = <port> under [tool.alertdrill.ports]"))
        elif var not in text:
            out.append(Problem("services", f"{where} {TABLE} {service}", f"a port variable {compose} uses "
                               f"(${{{var}}})", f"{var} appears nowhere in {compose}",
                               f"name the variable the compose file gives {service}'s port"))
    return out


def factor_problems(project: Project) -> list[Problem]:
    from alertdrill.alerting import timescale

    factor = project.factor if project.factor is not None else timescale.DEFAULT_FACTOR
    out = []
    for path in project.conf.rules:
        try:
            timescale.validate_factor(factor, path.read_text())  # its warnings are the drills' to show
        except timescale.FactorError as exc:
            out.append(Problem("drill factor", project.rel(path), f"drill factor {factor} valid for the rule windows",
                               str(exc), "lower the drill factor (--drill-factor for the drills, --factor here)"))
        except (OSError, ValueError):
            continue  # a file that is no rule file: the promtool check names it
    return out


def production_problems(project: Project) -> list[Problem]:
    """Production's scrape and evaluation intervals (the configured `prometheus` file, the only place they
    are set) against the runbook's pipeline table: the drills run their own, so only this sees them move."""
    from alertdrill.alerting.production import interval_mismatches

    conf, promises = project.conf, project.promises
    if promises is None:
        return []  # the runbook tables check names what is missing
    if conf.prometheus is None:
        return [Problem("production intervals", "[tool.alertdrill] prometheus", "production's prometheus.yml",
                        "no such file is configured", "set prometheus = \"<path to prometheus.yml>\" to have "
                        "its intervals held to the runbook's", not_checked=True)]
    try:
        config = yaml.safe_load(conf.prometheus.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        return [Problem("production intervals", project.rel(conf.prometheus), "a Prometheus configuration",
                        f"it cannot be read: {exc}", "fix the file")]
    return [Problem("production intervals", project.rel(conf.prometheus), promised, found,
                    "set the interval to the runbook's, or change the runbook's pipeline table if production "
                    "really moved") for found, promised in interval_mismatches(config, promises)]
