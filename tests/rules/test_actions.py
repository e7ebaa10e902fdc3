"""Every remediation action of the runbook is drilled or checked without running it
(alertdrill.runbook.actions): the check goes red on an action that acts on the wrong service, does not
parse, or runs a program that is not there. Fast: no containers."""
from __future__ import annotations

import pytest

import rulekit
from alertdrill.adopt import sources
from alertdrill.config import current
from alertdrill.runbook.actions import action_report
from alertdrill.runbook.parse import parse_runbook, parse_runbook_text

SERVICES = tuple(current().services)


def report(text: str | None = None, drilled=frozenset(), which=None):
    rb = parse_runbook(rulekit.RUNBOOK) if text is None else parse_runbook_text(text, rulekit.RUNBOOK)
    kwargs = {"which": which} if which else {}
    return action_report(rb, set(drilled), SERVICES, **kwargs)


def test_every_action_is_drilled_or_passes_the_static_check():
    checks = report(drilled=sources.drilled_actions(current()))
    assert [f"{a.alert}: {a.title}: {a.problems}" for a in checks if a.problems] == []
    drilled = {(a.alert, a.title.split(":")[0]) for a in checks if a.drilled}
    assert ("RedisDisconnected", "Redis stopped or crashed") in drilled
    assert ("RedisDisconnected", "Redis container gone") in drilled  # both of its situations
    assert len(drilled) >= 14, sorted(drilled)


def _redis_action(checks, title: str):
    [found] = [a for a in checks if a.alert == "RedisDisconnected" and a.title.startswith(title)]
    return found


def test_an_action_on_the_wrong_service_is_named():
    text = rulekit.RUNBOOK.read_text().replace("docker compose -f docker-compose.test.yml up -d redis",
                                               "docker compose -f docker-compose.test.yml up -d backend")
    found = _redis_action(report(text), "Redis container gone")
    assert found.problems == ("acts on backend, which neither the section's investigation nor the action's "
                              "comment names",)
    assert "checked statically: acts on backend" in found.verdict
    # drilled, the drill itself judges it (tests/drill: RedisDisconnected-container-gone-action-on-the-backend)
    assert _redis_action(report(text, drilled={("RedisDisconnected", "container gone")}), "Redis container gone").drilled


@pytest.mark.parametrize("old, new, problem", [
    ("docker compose -f docker-compose.test.yml up -d redis", 'docker compose -f docker-compose.test.yml up -d "redis',
     "does not parse"),
    ("docker compose -f docker-compose.test.yml up -d redis", "dockr compose -f docker-compose.test.yml up -d redis",
     "runs dockr, which is not installed here"),
])
def test_a_broken_command_is_named(old, new, problem):
    text = rulekit.RUNBOOK.read_text().replace(old, new)
    found = _redis_action(report(text), "Redis container gone")
    assert any(problem in p for p in found.problems), found.problems
