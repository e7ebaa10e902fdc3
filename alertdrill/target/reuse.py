"""Reuse loads what it drills: a running stack is made to run the drill copy of the rules, routing and
Prometheus configuration rendered for this run's factor before any drill. Prometheus and Alertmanager are recreated when they
mount another copy or run other intervals (a stack started at x30, drilled at x1); otherwise both are
reloaded (the rendered files may have changed). Then the loaded rules' `for` and Alertmanager's
group_wait are checked against the timing model: a drill never judges timings the stack does not run."""
from __future__ import annotations

import json
from typing import Callable

from alertdrill.proc import run as proc_run

import yaml

from alertdrill.alerting.drillconfig import DrillConfig
from alertdrill.alerting.durations import format_ms, parse_ms
from alertdrill.errors import StackError
from alertdrill.target.clients import AlertmanagerClient, PrometheusClient

# service -> (compose variable, where the container mounts it): the drill copies each service loads.
MOUNTS = {"prometheus": (("ALERTDRILL_RULES_DIR", "/etc/prometheus/rules"),
                         ("ALERTDRILL_PROMETHEUS_DIR", "/etc/prometheus/src")),
          "alertmanager": (("ALERTDRILL_ALERTMANAGER_DIR", "/etc/alertmanager/src"),),
          # the sink reads the same copy: the routing key it accepts, who mails whom
          "alert-sink": (("ALERTDRILL_ALERTMANAGER_DIR", "/etc/alertmanager/src"),)}
PROMETHEUS_ENV = ("RESEND_DELAY",)


def _inspect(container: str) -> dict:
    out = proc_run(["docker", "inspect", container], timeout=30)
    if out.returncode != 0:
        raise StackError(f"`docker inspect {container}` failed: {out.stderr.strip()}")
    return json.loads(out.stdout)[0]


def stale_services(cfg: DrillConfig, container: Callable[[str], str] = str) -> dict[str, str]:
    """service -> why it does not run `cfg` (another mounted copy, other Prometheus intervals).
    `container`: service -> its container name (the stack's lane)."""
    stale = {}
    for service, mounts in MOUNTS.items():
        info = _inspect(container(service))
        mounted = {m["Destination"]: m["Source"] for m in info["Mounts"]}
        off = [f"mounts {mounted.get(target) or 'nothing'} at {target}, the drill needs {cfg.env[var]}"
               for var, target in mounts if var in cfg.env and mounted.get(target, "") != cfg.env[var]]
        if service == "prometheus":
            env = dict(e.split("=", 1) for e in info["Config"]["Env"])
            off += [f"{k}={env.get(k)} (needs {cfg.env[k]})" for k in PROMETHEUS_ENV if env.get(k) != cfg.env[k]]
        if off:
            stale[service] = "; ".join(off)
    return stale


def load_drill_config(stack, cfg: DrillConfig) -> list[str]:
    """Make the running stack run `cfg` (recreate or reload); returns what was done. `stack` must be
    made with cfg.env as its overrides (its compose env file)."""
    done = []
    stale = stale_services(cfg, stack.container)
    if stale:
        stack.compose("up", "-d", "--wait", "--no-deps", "--no-build", *sorted(stale), timeout=300)
        done += [f"recreated {s}: it {why}" for s, why in sorted(stale.items())]
    else:
        prom, am = PrometheusClient(stack.endpoints.prometheus), AlertmanagerClient(stack.endpoints.alertmanager)
        try:
            prom.reload()
            am.reload()
        finally:
            prom.close()
            am.close()
        done.append("reloaded Prometheus and Alertmanager (POST /-/reload): both load the mounted copies as they are")
    verify_loaded(stack, cfg)
    done.append(f"verified: every rule's `for`, the intervals and group_wait as the timing model says at {cfg.timings.label}")
    return done


def verify_loaded(stack, cfg: DrillConfig) -> None:
    """StackError unless the loaded rules' `for`, Prometheus' scrape and evaluation intervals and
    Alertmanager's group_wait are the timing model's."""
    t = cfg.timings
    prom, am = PrometheusClient(stack.endpoints.prometheus), AlertmanagerClient(stack.endpoints.alertmanager)
    try:
        loaded = {r["name"]: float(r.get("duration", 0)) for r in prom.rules()}
        intervals = prom.config().get("global") or {}
        original = yaml.safe_load(am.status()["config"]["original"]) or {}
    finally:
        prom.close()
        am.close()
    wrong = [f"{name}: for {loaded.get(name)}s loaded, {t.for_s(name):g}s expected" for name in sorted(t.rules)
             if name not in loaded or abs(loaded[name] - t.for_s(name)) > 0.001]
    if cfg.prometheus_file is not None:
        wrong += [f"Prometheus {key} {intervals.get(key)} loaded, {format_ms(ms)} expected"
                  for key, ms in (("scrape_interval", t.scrape_ms), ("evaluation_interval", t.evaluation_ms))
                  if parse_ms(str(intervals.get(key) or "1m")) != ms]
    group_wait = parse_ms((original.get("route") or {}).get("group_wait") or "30s") / 1000
    if abs(group_wait - t.group_wait_s) > 0.001:
        wrong.append(f"Alertmanager group_wait {group_wait:g}s loaded, {t.group_wait_s:g}s expected")
    if wrong:
        raise StackError(f"the running stack does not run the drill timings {t.label}:\n  " + "\n  ".join(wrong)
                         + "\nHint: `alertdrill stack down`, then rerun (the stack is started with the right copy)")
