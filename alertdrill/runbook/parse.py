"""Parse a runbook written in Markdown: which alerts it names, and for each its text, its subsections
(Symptoms, Investigation, Remediation, Escalation) and its fenced code blocks.

An alert section is a heading (any level from ## down) whose text is only alert names: CamelCase
identifiers, optionally in backticks, several joined by "/" "," "&" or "and":

    ### RedisDisconnected
    ### HighAPILatency / CriticalAPILatency          (one section shared by both alerts)

It runs to the next heading of the same or a higher level. Inside, a subsection starts at a line that
is only a bold label (`**Remediation**:` or `**Remediation:**`) or at a deeper heading
(`#### Remediation`). "Example Commands", "Fix", "Mitigation" and "Actions" count as Remediation.

Remediation actions are machine-findable: every shell code block (bash, sh, shell, console or no
language) in a section's Remediation subsection is a list of commands; a comment line (`# ...`) starts
a new named action, the commands below it belong to it; backslash continuations are joined.

    rb = parse_runbook()                      # the configured runbook (docs/runbook.md here)
    rb = parse_runbook("path/to/your/runbook.md")
    rb.alert_names()                          # ['HighAPILatency', 'CriticalAPILatency', ...]
    rb.section("RedisDisconnected").remediation_commands
    rb.section("RedisDisconnected").actions   # [Action(title='Redis crashed or stopped: restart it', commands=[...])]
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alertdrill.config import current as current_config

SHELL_LANGS = {"", "bash", "sh", "shell", "console", "zsh"}
SUBSECTION_ALIASES = {
    "symptoms": "Symptoms",
    "investigation": "Investigation", "diagnosis": "Investigation", "triage": "Investigation",
    "remediation": "Remediation", "example commands": "Remediation", "fix": "Remediation",
    "mitigation": "Remediation", "actions": "Remediation", "remediation commands": "Remediation",
    "escalation": "Escalation",
}

_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE_RE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$")
_LABEL_RE = re.compile(r"^\*\*([^*]+?)(?::)?\*\*[ \t]*:?[ \t]*$")
_ALERT_NAME_RE = re.compile(r"^[A-Z][a-z0-9]*(?:[A-Z][A-Za-z0-9]*)+$")  # CamelCase with >= 2 humps
_NAME_SPLIT_RE = re.compile(r"\s*(?:/|,|&|\band\b)\s*")


class RunbookError(ValueError):
    """The runbook cannot be read or names no alert."""


@dataclass
class CodeBlock:
    lang: str
    text: str
    subsection: str  # canonical subsection it sits in ("" before the first label)
    line: int  # 1-based line of the opening fence

    @property
    def is_shell(self) -> bool:
        return self.lang.lower() in SHELL_LANGS

    def commands(self) -> list[str]:
        """Shell commands: comments and blank lines dropped, backslash continuations joined."""
        return [c for a in self.actions() for c in a.commands]

    def actions(self) -> list["Action"]:
        """The commands grouped under the comment line above them (its title)."""
        return _actions(self.text)


@dataclass
class Action:
    title: str  # the comment line above the commands ("" if none)
    commands: list[str]


@dataclass
class RunbookSection:
    alerts: list[str]
    heading: str
    level: int
    anchor: str  # GitHub anchor of the heading, e.g. "highapilatency--criticalapilatency"
    line: int
    text: str  # the section's body (without its heading)
    subsections: dict[str, str] = field(default_factory=dict)  # canonical name -> text
    code_blocks: list[CodeBlock] = field(default_factory=list)

    @property
    def remediation_blocks(self) -> list[CodeBlock]:
        return [b for b in self.code_blocks if b.subsection == "Remediation" and b.is_shell]

    @property
    def actions(self) -> list[Action]:
        return [a for b in self.remediation_blocks for a in _actions(b.text)]

    @property
    def remediation_commands(self) -> list[str]:
        return [c for b in self.remediation_blocks for c in b.commands()]

    @property
    def investigation_blocks(self) -> list[CodeBlock]:
        return [b for b in self.code_blocks if b.subsection == "Investigation"]


@dataclass
class Runbook:
    path: Path | None
    sections: list[RunbookSection]
    anchors: list[str]  # every heading's anchor, in order (to check runbook_url links)
    duplicates: list[str] = field(default_factory=list)  # alerts named by more than one heading
    text: str = ""  # the whole Markdown text

    def alert_names(self) -> list[str]:
        seen: list[str] = []
        for s in self.sections:
            seen += [a for a in s.alerts if a not in seen]
        return seen

    def section(self, alert: str) -> RunbookSection:
        for s in self.sections:
            if alert in s.alerts:
                return s
        raise KeyError(f"the runbook {self.path or ''} has no section for {alert}; it names: "
                       f"{', '.join(self.alert_names())}")

    def __contains__(self, alert: str) -> bool:
        return any(alert in s.alerts for s in self.sections)


def github_anchor(heading: str) -> str:
    """GitHub's heading slug: lower case, punctuation dropped (except - and _), spaces to dashes."""
    text = re.sub(r"[`*_~]|<[^>]+>", lambda m: "_" if m.group(0) == "_" else "", heading.strip())
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def alert_names_in_heading(heading: str) -> list[str]:
    """["HighAPILatency", "CriticalAPILatency"] for "HighAPILatency / CriticalAPILatency"; [] for a
    heading that is not only alert names ("Docker Commands", "API Health Alerts")."""
    parts = [p.strip().strip("`").strip() for p in _NAME_SPLIT_RE.split(heading.strip())]
    parts = [p for p in parts if p]
    if parts and all(_ALERT_NAME_RE.match(p) for p in parts):
        return parts
    return []


def _actions(text: str) -> list[Action]:
    actions: list[Action] = []
    current = Action("", [])
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if pending:
            line = pending + " " + line
            pending = ""
        if not line:
            continue
        if line.startswith("#"):
            if current.commands or current.title:
                actions.append(current)
            current = Action(line.lstrip("#").strip(), [])
            continue
        if line.startswith("$ "):
            line = line[2:]
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        current.commands.append(line)
    if pending:
        current.commands.append(pending)
    if current.commands or current.title:
        actions.append(current)
    return [a for a in actions if a.commands]


Heading = tuple[int, int, str]  # (line index, level, text)
Block = tuple[int, int, str, str]  # (opening fence index, closing fence index, language, text)


def _scan(lines: list[str]) -> tuple[list[Heading], list[Block]]:
    """Headings outside code fences, and the fenced code blocks with their lines."""
    headings: list[Heading] = []
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fm = _FENCE_RE.match(lines[i])
        if fm:
            indent, fence, lang = fm.group(1), fm.group(2), fm.group(3)
            j = i + 1
            while j < len(lines) and not re.match(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", lines[j]):
                j += 1
            body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1:j]]
            blocks.append((i, j, lang, "\n".join(body)))
            i = j + 1
            continue
        hm = _HEADING_RE.match(lines[i])
        if hm:
            headings.append((i, len(hm.group(1)), hm.group(2)))
        i += 1
    return headings, blocks


def _anchors(headings: list[Heading]) -> list[str]:
    """GitHub's anchors, numbered -1, -2 ... for repeated headings."""
    anchors: list[str] = []
    counts: dict[str, int] = {}
    for _idx, _lvl, htext in headings:
        base = github_anchor(htext)
        n = counts.get(base, 0)
        anchors.append(base if n == 0 else f"{base}-{n}")
        counts[base] = n + 1
    return anchors


def _section(lines: list[str], blocks: list[Block], idx: int, end: int, level: int, htext: str,
             anchor: str) -> RunbookSection:
    """The section whose heading is at `idx`, running to `end`: its subsections (bold labels or deeper
    headings, outside code blocks) and its code blocks, each owned by the subsection it sits in."""
    sec = RunbookSection(alerts=alert_names_in_heading(htext), heading=htext, level=level, anchor=anchor,
                         line=idx + 1, text="\n".join(lines[idx + 1:end]).strip("\n"))
    in_block = {ln for (o, c, _l, _t) in blocks if idx < o < end for ln in range(o, c + 1)}
    current = ""
    collected: dict[str, list[str]] = {}
    labels_at: dict[int, str] = {}
    for ln in range(idx + 1, end):
        label = None
        if ln not in in_block:
            lm, hm = _LABEL_RE.match(lines[ln]), _HEADING_RE.match(lines[ln])
            if lm:
                label = lm.group(1)
            elif hm and len(hm.group(1)) > level:
                label = hm.group(2)
        if label is not None:
            label = label.strip().rstrip(":").strip()
            current = SUBSECTION_ALIASES.get(label.lower(), label)
            labels_at[ln] = current
            collected.setdefault(current, [])
        elif current:
            collected[current].append(lines[ln])
    sec.subsections = {k: "\n".join(v).strip("\n") for k, v in collected.items()}
    for o, _c, lang, btext in blocks:
        if idx < o < end:
            owner = next((labels_at[ln] for ln in sorted(labels_at, reverse=True) if ln < o), "")
            sec.code_blocks.append(CodeBlock(lang=lang, text=btext, subsection=owner, line=o + 1))
    return sec


def parse_runbook_text(text: str, path: Path | None = None) -> Runbook:
    lines = text.splitlines()
    headings, blocks = _scan(lines)
    anchors = _anchors(headings)
    sections: list[RunbookSection] = []
    duplicates: list[str] = []
    named: set[str] = set()
    for k, (idx, level, htext) in enumerate(headings):
        if level < 2 or not alert_names_in_heading(htext):
            continue
        end = next((idx2 for idx2, level2, _t in headings[k + 1:] if level2 <= level), len(lines))
        sec = _section(lines, blocks, idx, end, level, htext, anchors[k])
        duplicates += [n for n in sec.alerts if n in named]
        named.update(sec.alerts)
        sections.append(sec)
    return Runbook(path=path, sections=sections, anchors=anchors, duplicates=duplicates, text=text)


def parse_runbook(path: str | Path | None = None) -> Runbook:
    """Parse the runbook at path (default: the configured `runbook`)."""
    p = Path(path) if path is not None else current_config().runbook
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise RunbookError(f"cannot read the runbook {p}: {e.strerror or e}") from None
    rb = parse_runbook_text(text, p)
    if not rb.sections:
        raise RunbookError(f"the runbook {p} names no alert: expected headings like "
                           f"'### RedisDisconnected' or '### HighAPILatency / CriticalAPILatency'")
    return rb


def main(argv: list[str] | None = None) -> int:
    """`alertdrill runbook [PATH]`: list the alerts a runbook names and their remediation actions."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "runbook":
        argv = argv[1:]
    try:
        rb = parse_runbook(argv[0] if argv else None)
    except RunbookError as e:
        print(f"alertdrill runbook: {e}", file=sys.stderr)
        return 1
    print(f"{rb.path}: {len(rb.alert_names())} alerts")
    for name in rb.alert_names():
        sec = rb.section(name)
        print(f"  {name}  (#{sec.anchor}, line {sec.line})")
        for a in sec.actions:
            print(f"    - {a.title or 'action'}")
            for c in a.commands:
                print(f"        $ {c}")
    for d in rb.duplicates:
        print(f"  warning: {d} has more than one section", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
