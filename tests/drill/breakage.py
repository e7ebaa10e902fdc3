"""Deliberately broken alerting, to prove a drill goes red when the rules, the routing or the runbook
are wrong.

A `Breakage` edits one of four: the rules, the routing or the notification templates in the drill copies the running stack
mounts (then reloads Prometheus or Alertmanager, and always restores and reloads again on the way out:
failure, timeout or Ctrl-C), or the runbook, as a copy the drill reads instead of the real one.

A new breakage goes in the table of tests/drill/test_breakages.py: `Breakage.rules(...)`, `.routing(...)`,
`.template(...)`, `.runbook(...)`.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from alertdrill.engine.context import DrillContext
from alertdrill.runbook.parse import parse_runbook_text

Edit = Callable[[str], str]


@dataclass(frozen=True)
class Breakage:
    kind: str  # rules | routing | template | runbook | both
    edit: Edit  # both: the two Breakages
    description: str
    file: str = ""  # template: the template file's name, beside alertmanager.yml in templates/

    @classmethod
    def rules(cls, edit: Edit, description: str) -> "Breakage":
        return cls("rules", edit, description)

    @classmethod
    def routing(cls, edit: Edit, description: str) -> "Breakage":
        return cls("routing", edit, description)

    @classmethod
    def template(cls, edit: Edit, description: str, file: str = "oncall.tmpl") -> "Breakage":
        """An edit of a notification template: Alertmanager loads it on reload and runs it at each notice."""
        return cls("template", edit, description, file)

    @classmethod
    def runbook(cls, edit: Edit, description: str) -> "Breakage":
        return cls("runbook", edit, description)

    @classmethod
    def both(cls, first: "Breakage", second: "Breakage") -> "Breakage":
        """Two breakages at once: a drill must name both promises it breaks."""
        return cls("both", (first, second), f"{first.description}; and {second.description}")  # type: ignore[arg-type]

    @contextmanager
    def applied(self, ctx: DrillContext) -> Iterator[DrillContext]:
        """The breakage in effect; yields the context a drill must use while it is (the same one, or
        one reading the broken runbook)."""
        if self.kind == "both":
            first, second = self.edit  # type: ignore[misc]
            with first.applied(ctx) as once, second.applied(once) as twice:
                yield twice
        elif self.kind == "runbook":
            yield ctx.with_runbook(_broken_runbook(ctx, self.edit))
        elif self.kind == "rules":
            with _edited(_rules_file(ctx), self.edit, ctx.prometheus.reload):
                yield ctx
        elif self.kind == "routing":
            with _edited(_alertmanager_file(ctx), self.edit, lambda: _reload_alertmanager(ctx)):
                yield ctx
        elif self.kind == "template":
            with _edited(_alertmanager_file(ctx).parent / "templates" / self.file, self.edit,
                         lambda: _reload_alertmanager(ctx)):
                yield ctx
        else:
            raise ValueError(f"unknown breakage kind {self.kind!r}: valid kinds are rules, routing, template, runbook")


def _changed(original: str, mutated: str, what: str) -> str:
    if mutated == original:
        raise ValueError(f"the edit changed nothing in {what}: the breakage would prove nothing")
    return mutated


def _broken_runbook(ctx: DrillContext, edit: Edit):
    """The runbook parsed from an edited copy of its text (nothing is written)."""
    path = ctx.runbook.path
    original = path.read_text()
    return parse_runbook_text(_changed(original, edit(original), str(path)), path)


@contextmanager
def _edited(path: Path, edit: Edit, reload: Callable[[], None]) -> Iterator[str]:
    """The file edited and reloaded; restored and reloaded on the way out. Nothing waits for the restored
    configuration to be evaluated here: the next drill's steady state does (a rule group reloaded is
    evaluated anew before it holds)."""
    original = path.read_text()
    mutated = _changed(original, edit(original), str(path))
    try:
        path.write_text(mutated)
        reload()
        yield mutated
    finally:
        path.write_text(original)
        reload()


def _rules_file(ctx: DrillContext) -> Path:
    rules_dir = ctx.stack.overrides.get("ALERTDRILL_RULES_DIR")
    if not rules_dir:
        raise RuntimeError("the stack runs the production rules; broken-alerting drills need a drill copy")
    return Path(rules_dir) / "alerts.yml"


def _alertmanager_file(ctx: DrillContext) -> Path:
    return Path(ctx.stack.overrides["ALERTDRILL_ALERTMANAGER_DIR"]) / "alertmanager.yml"


def _reload_alertmanager(ctx: DrillContext) -> None:
    # Alertmanager loads the mounted drill copy as it is: a reload re-reads it, templates included.
    ctx.alertmanager.reload()


def in_rule(alert: str, old: str, new: str) -> Edit:
    """An edit of the rules file that replaces `old` by `new` once, inside `alert`'s rule only."""

    def edit(text: str) -> str:
        start = text.index(f"- alert: {alert}\n")
        end = text.find("- alert: ", start + 1)
        end = len(text) if end == -1 else end
        rule = text[start:end]
        if old not in rule:
            raise ValueError(f"{old!r} not found in the rule {alert}: the breakage would prove nothing")
        return text[:start] + rule.replace(old, new, 1) + text[end:]

    return edit


def replace(old: str, new: str, count: int = 1) -> Edit:
    """An edit that replaces `old` by `new` (`count` times), failing if `old` is not there."""

    def edit(text: str) -> str:
        if old not in text:
            raise ValueError(f"{old!r} not found: the breakage would prove nothing")
        return text.replace(old, new, count)

    return edit


def drop_between(start: str, end: str) -> Edit:
    """An edit that removes the text from `start` up to (not including) the next `end` after it."""

    def edit(text: str) -> str:
        a = text.index(start)
        b = text.index(end, a + 1)
        return text[:a] + text[b:]

    return edit
