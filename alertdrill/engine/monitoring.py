"""What a drill sets in the running monitoring for itself (bookkeeping, not a fault): the run label.

Every rule of the drill copy labels its alerts `alertdrill_run="<drill>"` (alertdrill.alerting.drillcopy);
before each drill the label's value is set to this drill in the mounted rule files and Prometheus is
reloaded, and the drill copy of the routing groups by the label. So each drill's alert opens a fresh
Alertmanager group: the first notice comes after group_wait, as for a fresh incident, and no drill waits
for Alertmanager to reap a group an earlier drill of the same alert left behind.

Why the rules and not an external label: Prometheus re-sends resolved alerts for 15 minutes with its
current external labels, which would open the new drill's group with an old, resolved alert (and the
new alert would then wait for group_interval). A rule whose labels change is a new rule: its old alerts
are dropped at the reload.
"""
from __future__ import annotations

from pathlib import Path

from alertdrill.alerting.drillcopy import RUN_LABEL, label_run
from alertdrill.engine.context import DrillContext
from alertdrill.errors import SteadyStateError


def rules_dir(ctx: DrillContext) -> str | None:
    """Where the stack's drill copy of the rules is, whose run label each drill sets; None: production's."""
    return ctx.stack.overrides.get("ALERTDRILL_RULES_DIR") or None


def label_alerts(ctx: DrillContext, run: str) -> None:
    rules = rules_dir(ctx)
    if not rules:
        return  # the stack runs the production rules: no run label to set
    for path in sorted(Path(rules).glob("*.y*ml")):
        path.write_text(label_run(path.read_text(), run))
    ctx.prometheus.reload()
    labelled = {r["name"]: (r.get("labels") or {}).get(RUN_LABEL) for r in ctx.prometheus.rules()}
    stale = sorted(n for n, v in labelled.items() if v != run)
    if stale:
        raise SteadyStateError("Prometheus did not load the drill's run label",
                               expected=f"every alerting rule labelled {RUN_LABEL}={run}",
                               seen=f"rules without it: {', '.join(stale)}",
                               hint=f"were the rules rendered by this checkout? See {rules}")
