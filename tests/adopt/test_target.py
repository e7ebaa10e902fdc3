"""The target interface: the compose Stack is a StackControl, and faults reach the platform only
through it (a Kubernetes target is an added module). Fast: no containers."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from alertdrill.target import lane as lanes
from alertdrill.target.control import StackControl
from alertdrill.target.stack import Stack

ENGINE = Path(__file__).resolve().parents[2] / "alertdrill" / "engine"


def test_the_compose_stack_implements_the_target_interface_with_its_project_name(monkeypatch):
    monkeypatch.delenv(lanes.ENV_VAR, raising=False)  # the configured lane (0), whatever lane this test runs in
    stack = Stack({})
    try:
        assert isinstance(stack, StackControl)
        assert stack.command()[:4] == [stack.command()[0], "compose", "-p", "alertdrill"]
    finally:
        stack.close()


def test_container_faults_use_the_target_not_docker():
    tree = ast.parse((ENGINE / "faults.py").read_text())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for name in ("KillContainer", "StopContainer", "RemoveContainer", "RunawayQuery"):
        used = {f"{n.value.value.id}.{n.value.attr}" for n in ast.walk(classes[name])
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Attribute)
                and isinstance(n.value.value, ast.Name) and n.attr in ("kill", "exec", "state", "stop", "start", "remove", "create")}
        assert "ctx.docker" not in used, f"{name} calls docker directly: {used}"


def test_a_missing_compose_file_is_named_with_its_key(tmp_path):
    from alertdrill import config
    from alertdrill.errors import ConfigError

    previous = config.activate(config.from_table({"compose_file": "nope.yml"}, Path(__file__).resolve().parents[2]))
    try:
        with pytest.raises(ConfigError, match=r"compose_file: .*nope.yml does not exist"):
            Stack({})
    finally:
        config.activate(previous)
