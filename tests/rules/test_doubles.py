"""The stand-ins of tests/doubles.py fail when the class they stand in for changes: a renamed method, a
changed signature, an attribute the class no longer has. (A SimpleNamespace once stood in for the
Observer with a method the Observer had renamed, and `alertdrill gameday` failed at its first look.)"""
from __future__ import annotations

import pytest

from alertdrill.engine.drill import Drill
from alertdrill.engine.observe import Observer
from tests.doubles import DriftedStandIn, interface, stand_in


def test_a_method_the_class_does_not_have_is_refused():
    with pytest.raises(DriftedStandIn, match="Observer has no attribute unexpected_critical"):
        stand_in(Observer, unexpected_critical=lambda: [])


def test_a_method_called_against_its_signature_fails():
    obs = stand_in(Observer, situation=lambda: "seen")
    assert obs.situation() == "seen"
    with pytest.raises(TypeError):
        obs.situation("an argument the real method does not take")


def test_a_method_nobody_set_does_not_exist_on_the_stand_in():
    with pytest.raises(AttributeError):
        stand_in(Observer).unexpected_critical()


def test_attributes_set_in_init_are_part_of_the_interface():
    assert {"obs", "expect", "timeline", "started", "ctx"} <= interface(Drill)
    assert {"ctx", "expect", "watch"} <= interface(Observer)
