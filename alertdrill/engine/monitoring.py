"""What a drill sets in the running monitoring for itself (bookkeeping, not a fault): the run label.

Prometheus attaches `alertdrill_run="<this drill>"` to every alert it sends (an external label, set by
re-rendering its configuration and reloading), and the drill copy of the routing groups by that label
(alertdrill.alerting.drillconfig). So each drill's alert opens a fresh Alertmanager group: the first
notice comes after group_wait, as for a fresh incident, and no drill waits for Alertmanager to reap
the group an earlier drill of the same alert left behind.
"""
from __future__ import annotations

from alertdrill.alerting.drillconfig import RUN_LABEL
from alertdrill.engine.context import DrillContext
from alertdrill.errors import SteadyStateError


def label_alerts(ctx: DrillContext, run: str) -> None:
    code, out = ctx.docker.exec("prometheus", ["render-config"], environment={"ALERTDRILL_RUN": run})
    if code != 0:
        raise SteadyStateError("could not set the drill's run label in Prometheus",
                               expected="render-config in the prometheus container exits 0",
                               seen=f"exit {code}: {out.strip()[-300:]}",
                               hint="is the prometheus image built from this checkout? `make images`")
    ctx.prometheus.reload()
    labels = (ctx.prometheus.config().get("global") or {}).get("external_labels") or {}
    if labels.get(RUN_LABEL) != run:
        raise SteadyStateError("Prometheus did not take the drill's run label",
                               expected=f"external label {RUN_LABEL}={run}", seen=f"external labels {labels}",
                               hint="check stack/prometheus/prometheus.yml.tmpl and render-config")
