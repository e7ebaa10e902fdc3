"""People remediate (`--remediate human`): the drill announces that the alert fired and who was paged,
prints the alert's runbook section (investigation and remediation), and waits for the people on call to
bring the watched signal back to the healthy side of its threshold. The time from the first page to
that moment is the time to mitigate; the drill then goes on as usual (the alert resolves, the resolved
notices arrive, invariants hold). The wait ends at the drill's maximum duration (--max-drill-duration),
and the faults heal whatever happened."""
from __future__ import annotations

import textwrap
import time
from typing import TYPE_CHECKING

from alertdrill.engine.remediations import Remediation, RunbookAction
from alertdrill.errors import DrillAborted
from alertdrill.wait import until

if TYPE_CHECKING:
    from alertdrill.engine.context import DrillContext
    from alertdrill.engine.runner import DrillRun

NO_LIMIT_S = 3600.0  # without --max-drill-duration, people get an hour
ANNOUNCE_EVERY_S = 10.0


class HumanRemediation(Remediation):
    name = "people on call"

    def __init__(self, drill: "DrillRun", suggested: Remediation) -> None:
        self.drill, self.suggested = drill, suggested
        self.applied_at: float | None = None  # when the signal came back: the remediation as it took effect
        self.output = ""

    def runbook_text(self, ctx: "DrillContext") -> str:
        alert = self.drill.expect.alertname
        try:
            section = ctx.runbook.section(alert)
        except KeyError as exc:
            return f"(no runbook section: {exc})"
        parts = [f"runbook {ctx.runbook.path}, section #{section.anchor}"]
        for name in ("Investigation", "Remediation"):
            if section.subsections.get(name):
                parts += [f"{name}:", textwrap.indent(section.subsections[name].strip(), "  ")]
        return "\n".join(parts)

    def apply(self, ctx: "DrillContext") -> str:
        d, alert = self.drill, self.drill.expect.alertname
        paged = sorted({n["receiver"] for n in d.timeline.notifications if n["status"] == "firing"})
        d.report(f"GAMEDAY: {alert} is FIRING ({d.expect.severity}); paged: {', '.join(paged) or 'nobody'}")
        d.report("GAMEDAY: over to the people on call. Follow the runbook; the drill waits until "
                 f"{d.obs.watch or alert} is back on the healthy side of {d.expect.threshold or 'its threshold'}")
        d.report(textwrap.indent(self.runbook_text(ctx), "    | "))
        limit = ctx.gameday.max_drill_s
        timeout = max(1.0, d.started + limit - time.time()) if limit else NO_LIMIT_S

        def watching() -> bool:
            done = d.mitigated()  # checks the abort conditions first (an unrelated critical alert aborts)
            d.check_unexpected()
            return done

        def never() -> None:
            raise DrillAborted(f"nobody mitigated {alert} within the drill's {limit or NO_LIMIT_S:g}s",
                               expected=f"{d.obs.watch} back on the healthy side of {d.expect.threshold}",
                               seen=d.obs.situation(),
                               hint="the faults are healed; in the review, walk the runbook section printed above")

        until(watching, timeout, poll=d.POLL, on_timeout=never, every=ANNOUNCE_EVERY_S,
              progress=d.progress(lambda: f"waiting for the people on call; {d.obs.watched()}"))
        self.applied_at = d.timeline.first("mitigated").at
        took = d.timeline.time_to_mitigate
        self.output = "mitigated " + (f"{took:.1f}s after the first page" if took is not None else "before any page")
        d.report(f"GAMEDAY: {alert} mitigated: {self.output}")
        return f"people on call, following the runbook ({self._suggestion(ctx)})"

    def _suggestion(self, ctx: "DrillContext") -> str:
        if isinstance(self.suggested, RunbookAction):
            try:
                return "the runbook suggests: " + "; ".join(self.suggested.commands(ctx))
            except Exception:  # a plan problem, reported by --plan; not the people's
                return f"the runbook's action {self.suggested.match!r}"
        return f"the drill's own remediation would be {type(self.suggested).__name__}"
