"""The run's summary as Markdown, for CI job summaries ($GITHUB_STEP_SUMMARY) and incident reviews."""
from __future__ import annotations

from alertdrill.alerting.timings import FLOORS
from alertdrill.engine import noise
from alertdrill.report.load import figures, label, ratio, seconds, verdict

ICONS = {"passed": "✅", "caught": "✅", "failed": "❌", "MISSED": "❌", "aborted": "⏹"}


def actions_line(actions: list | None) -> str:
    """How many of the runbook's remediation actions this run drilled, and which were only checked."""
    if not actions:
        return ""
    drilled = [a for a in actions if a.drilled]
    troubled = [a for a in actions if a.problems]
    line = (f"runbook actions: {len(drilled)} of {len(actions)} drilled, {len(actions) - len(drilled)} checked "
            "statically (they parse, their programs exist, they act on the services their section looks at)")
    return line + "".join(f"\n- **{a.alert}: {a.title or a.commands[0]}**: {'; '.join(a.problems)}" for a in troubled)


def summary_markdown(timelines: list[dict], actions: list | None = None) -> str:
    lines = ["## alertdrill summary", "",
             "| alert | verdict | remediation | time to fire | floor | ratio | time to mitigate | time to resolve "
             "| floor | ratio | notices |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for t in map(figures, timelines):
        v = verdict(t)
        lines.append(
            f"| {label(t)} | {ICONS.get(v, '')} {v} | {t['remediate']} | {seconds(t.get('time_to_fire'))} | "
            f"{seconds(t.get('fire_floor'))} | {ratio(t.get('fire_ratio'))} | {seconds(t.get('time_to_mitigate'))} | "
            f"{seconds(t.get('time_to_resolve'))} | {seconds(t.get('resolve_floor'))} | {ratio(t.get('resolve_ratio'))} "
            f"| {noise.describe(t.get('noise'))} |")
    failed = [t for t in timelines if verdict(t) in ("failed", "MISSED", "aborted")]
    for t in failed:
        first = (t.get("error") or "no message recorded").splitlines()[0]
        lines += ["", f"**{label(t)}** {verdict(t)}: {first}"]
    factors = sorted({f"x{t.get('factor', 0):g}" for t in timelines})
    lines += ["", f"time compression {', '.join(factors)}; {FLOORS}", "", noise.LEGEND]
    if actions:
        lines += ["", actions_line(actions)]
    return "\n".join(lines) + "\n"
