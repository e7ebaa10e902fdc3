"""`alertdrill gameday` turns its command line into pytest's: the chosen drills, the running stack left
up, people remediating, abort conditions on by default."""
from __future__ import annotations

import argparse

import pytest

from alertdrill import gameday
from alertdrill.errors import ConfigError


def parse(*argv: str) -> list[str]:
    p = argparse.ArgumentParser()
    gameday.add_arguments(p)
    own, extra = gameday.split_pytest_args(list(argv))
    args = p.parse_args(own)
    args.pytest_args = extra
    return gameday.pytest_args(args)


def test_a_gameday_reuses_the_running_stack_at_production_timings_and_aborts_on_critical():
    args = parse("RedisDisconnected", "--remediate", "human", "--max-drill-duration", "900",
                 "--health-probe", "http://127.0.0.1:8000/health")
    joined = " ".join(args)
    assert args[:3] == ["scenarios", "-k", "test_RedisDisconnected"]
    for part in ("--drill-factor 1", "--reuse-stack", "--remediate human", "--max-drill-duration 900",
                 "--abort-on-critical", "--health-probe http://127.0.0.1:8000/health"):
        assert part in joined
    assert "--remediate runbook" not in joined


def test_options_after_the_alerts_and_pytest_options_after_a_double_dash():
    args = parse("RedisDisconnected", "--factor", "30", "--", "--drill-artifacts", "/tmp/x")
    assert args[args.index("--drill-factor") + 1] == "30"
    assert args[-2:] == ["--drill-artifacts", "/tmp/x"] and "--factor" not in args


def test_the_gates_pass_through():
    joined = " ".join(parse("--max-fire-ratio", "2", "--max-notifications", "4"))
    assert "--max-fire-ratio 2" in joined and "--max-notifications 4" in joined
    assert "--max-notifications none" in " ".join(parse())  # no gate unless asked


def test_abort_on_critical_can_be_turned_off():
    assert "--abort-on-critical" not in parse("--no-abort-on-critical")


def test_a_plan_neither_reuses_nor_starts_anything():
    args = parse("--plan", "HighAPILatency", "CriticalAPILatency")
    assert "--plan" in args and "--reuse-stack" not in args
    assert "test_HighAPILatency or test_CriticalAPILatency" in args


def test_an_unknown_alert_names_the_valid_ones():
    with pytest.raises(ConfigError, match="no drill for Nope: the runbook's alerts are .*RedisDisconnected"):
        parse("Nope")


def test_one_situation_of_an_alert():
    args = parse("RedisDisconnected[container_gone]", "HighErrorRate")
    assert args[1:3] == ["-k", "(test_RedisDisconnected and container_gone) or test_HighErrorRate"]
    with pytest.raises(ConfigError, match=r"no drill for Redis\[x\]: .* as ALERT\[situation\]"):
        parse("Redis[x]")
