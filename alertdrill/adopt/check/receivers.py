"""Production's receivers against the runbook's Receivers table: every receiver it names is configured
with the integrations it names, each sending the resolve too, to the channel or address it names."""
from __future__ import annotations

from alertdrill.adopt.check.model import Problem, Project

CHECK = "receivers"
TARGET = {"slack": "channel", "email": "to"}  # integration -> the config key holding where it goes


def delivery_problems(am: dict, deliveries: dict, where: str = "alertmanager.yml") -> list[Problem]:
    """deliveries: receiver -> the runbook's Delivery rows (alertdrill.runbook.promises)."""
    configured = {r.get("name"): r for r in am.get("receivers") or [] if isinstance(r, dict)}
    out = []
    for name, promised in deliveries.items():
        if name not in configured:
            out.append(Problem(CHECK, f"{where} receivers", f"a receiver {name} (the runbook's Receivers table)",
                               f"receivers {sorted(k for k in configured if k)}", f"add the receiver {name}, or fix its name"))
            continue
        got = {k.removesuffix("_configs"): v for k, v in configured[name].items() if k.endswith("_configs")}
        want = sorted(d.integration for d in promised)
        if sorted(got) != sorted(set(want)):
            out.append(Problem(CHECK, f"{where} receiver {name}", f"integrations {want} (the runbook's Receivers table)",
                               f"integrations {sorted(got)}", "configure the integrations the runbook names"))
            continue
        out += _config_problems(name, promised, got, where)
    return out


def _config_problems(name: str, promised, got: dict, where: str) -> list[Problem]:
    out = []
    for d in promised:
        configs = got[d.integration] or []
        if not all(isinstance(c, dict) and c.get("send_resolved") is True for c in configs):
            out.append(Problem(CHECK, f"{where} receiver {name} {d.integration}_configs", "send_resolved: true on each",
                               f"{[c.get('send_resolved') for c in configs if isinstance(c, dict)]}",
                               "set send_resolved: true, so that people hear the incident is over"))
        key = TARGET.get(d.integration)
        if key and [c.get(key) for c in configs if isinstance(c, dict)] != [d.to]:
            out.append(Problem(CHECK, f"{where} receiver {name} {d.integration}_configs", f"{key} {d.to!r} (the "
                               "runbook's Receivers table)", f"{[c.get(key) for c in configs if isinstance(c, dict)]}",
                               f"set {key}: {d.to}, or change the runbook's table"))
    return out


def receiver_problems(project: Project) -> list[Problem]:
    if project.promises is None or not project.promises.deliveries:
        return []
    return delivery_problems(project.am, project.promises.deliveries, project.rel(project.conf.alertmanager))
