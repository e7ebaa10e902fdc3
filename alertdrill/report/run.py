"""The report of the run that just ended, written beside its timelines (report.html, summary.md), and the
figures a test carries into JUnit XML."""
from __future__ import annotations

import os
from pathlib import Path

from alertdrill.engine import noise
from alertdrill.report.html import write_html
from alertdrill.report.load import DEFAULTS
from alertdrill.report.markdown import summary_markdown

JUNIT_FIGURES = ("time_to_fire", "fire_floor", "fire_ratio", "fire_deadline", "time_to_mitigate", "time_to_resolve",
                 "resolve_floor", "resolve_ratio", "factor", "remediate", "outcome",
                 *(f"noise:{k}" for k in noise.FIELDS))  # the notices delivered ("" when not counted)


def as_report_dict(timeline) -> dict:
    """A live Timeline as the report reads it from JSON."""
    return {**DEFAULTS, **timeline.as_dict()}


def junit_properties(timeline) -> list[tuple[str, str]]:
    """(name, value) pairs for pytest's record_property: the figures of the summary table (the notices as
    noise:pages, noise:messages, ...), and each receiver's time to its page."""
    d = timeline.as_dict()
    d.update({f"noise:{k}": v for k, v in d["noise"].items()})
    props = [(k, "" if d.get(k) is None else (f"{d[k]:.3f}" if isinstance(d[k], float) else str(d[k])))
             for k in JUNIT_FIGURES]
    props += [(f"notified_after:{r}", f"{s:.3f}") for r, s in sorted(d["notified_after"].items())]
    return props


def runbook_actions(dicts: list[dict]):
    """Every remediation action of the configured runbook: drilled when a drill of this run that passed
    applied it (alertdrill.runbook.actions), else checked statically; None without a readable runbook."""
    from alertdrill.config import current
    from alertdrill.runbook.actions import action_report
    from alertdrill.runbook.parse import parse_runbook

    try:
        conf = current()
        runbook = parse_runbook(conf.runbook)
    except Exception:  # noqa: BLE001 (a report without this table rather than no report)
        return None
    drilled = {(t["alert"], a["name"]) for t in dicts if t.get("outcome") == "passed"
               and not t.get("broken_on_purpose") for a in t.get("actions") or []}
    return action_report(runbook, drilled, conf.services)


def write_run_report(timelines: list, directory: Path, history: dict | None = None) -> tuple[Path, Path]:
    """report.html and summary.md of this run's drills in `directory`; the summary is also appended to
    $GITHUB_STEP_SUMMARY when set (a CI job's summary page)."""
    from alertdrill.report.history import trend_svgs

    dicts = [as_report_dict(t) for t in timelines]
    actions = runbook_actions(dicts)
    html = write_html(dicts, Path(directory) / "report.html", trends=trend_svgs(history or {}, dicts), actions=actions)
    md = Path(directory) / "summary.md"
    text = summary_markdown(dicts, actions=actions)
    md.write_text(text)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a") as f:
            f.write(text)
    return html, md
