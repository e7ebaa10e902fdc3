"""Where a runbook_url leads: its path must end with the runbook's own path (relative to the project, e.g.
docs/runbook.md) and its anchor must be the alert's section. The drills judge every notice's link with it
(alertdrill.engine.observe), `alertdrill check` every rule's annotation."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit


def runbook_path(runbook, root: Path) -> str:
    """The runbook's path as a link names it: relative to the project's root, else its file name."""
    path = Path(runbook.path or "runbook.md")
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def link_problems(url: str, alert: str, runbook, root: Path) -> list[str]:
    """Whether `url` leads where a person on call must land: the runbook's path, `alert`'s section."""
    problems = []
    own = runbook_path(runbook, root)
    path = urlsplit(url).path
    if path != own and not path.endswith("/" + own):
        problems.append(f"runbook_url {url} leads to {path or '(no path)'}, not to the runbook {own}")
    anchor = url.rsplit("#", 1)[1] if "#" in url else ""
    if anchor not in runbook.anchors:
        problems.append(f"runbook_url {url} points at #{anchor or '(no anchor)'}, no heading of {runbook.path}")
    elif alert in runbook and runbook.section(alert).anchor != anchor:
        problems.append(f"runbook_url {url} points at #{anchor}, not at {alert}'s section "
                        f"#{runbook.section(alert).anchor}")
    return problems
