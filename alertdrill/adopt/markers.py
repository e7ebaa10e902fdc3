"""The DRAFT marker `alertdrill init` puts above what it drafts in a runbook (a promise table, an alert's
section): one quoted line, visible where the runbook is read. While it is there the draft is init's (each
run redrafts it from the rules and alertmanager.yml) and `alertdrill check` reports it; once a person has
reviewed the draft and deleted the line, it is the promise, and init never touches it again.

    > DRAFT (alertdrill init): alert index, drafted from rules/web.yml and alertmanager.yml. Review it, ...
"""
from __future__ import annotations

import re

_MARKER = re.compile(r"^> DRAFT \(alertdrill init\): (?P<what>[^,]+),")


def marker(what: str, sources: str, redrafted: bool = True) -> str:
    """The marker line; `redrafted`: init redrafts what it marks on every run (a table; a section is
    drafted once)."""
    return (f"> DRAFT (alertdrill init): {what}, drafted from {sources}. Review it, then delete this line: until "
            "then it is no promise" + (", `alertdrill check` reports it and `alertdrill init` redrafts it." if redrafted
                                        else " and `alertdrill check` reports it."))


def what(line: str) -> str | None:
    """What a marker line marks ("alert index", "section RedisDown"), None for any other line."""
    m = _MARKER.match(line.strip())
    return m.group("what") if m else None


def markers(text: str) -> list[tuple[int, str]]:
    """(1-based line, what it marks) of every DRAFT marker in a runbook's text."""
    return [(n, w) for n, line in enumerate(text.splitlines(), 1) if (w := what(line))]
