"""Pages at any hour (alertdrill.alerting.timeofweek): amtool ignores time intervals, so the routing tree is
evaluated with code of our own, every day of a year, on the half hours and at every edge an interval names.
A route that delivers a paging alert and is muted some of the time breaks the runbook's promise."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

import rulekit
from alertdrill.alerting.timeofweek import TimeIntervalError, delivers, holds, paging_silences, silent_times

UTC = timezone.utc


def paging(rules) -> dict:
    promised = rulekit.promises()
    return {a: rulekit.rule_labels(r) for a, r in rulekit.alert_rules(rules).items()
            if promised.alerts[a].severity in promised.paged}


def test_every_page_goes_out_at_any_hour(am, rules):
    assert len(paging(rules)) == 6 and paging_silences(am, paging(rules)) == []


def test_a_paging_route_muted_at_night_is_named_with_when(am, rules):
    doc = copy.deepcopy(am)
    doc["time_intervals"] = [rulekit.NIGHTS]
    route = next(r for r in doc["route"]["routes"] if r["receiver"] == "pagerduty")
    route["mute_time_intervals"] = ["nights"]
    found = paging_silences(doc, paging(rules))
    assert len(found) == len(paging(rules))
    assert found[0].startswith(f"{next(iter(paging(rules)))} -> pagerduty: the route that delivers this page is "
                               "silent at ") and "Sat 2028-01-01 00:00 UTC" in found[0]
    # the channel that carries the pages' messages too: a route that delivers a paging alert, whatever its kind
    slack = copy.deepcopy(am)
    slack["time_intervals"] = [rulekit.NIGHTS]
    slack["route"]["routes"][-1]["mute_time_intervals"] = ["nights"]
    assert {line.split(":")[0].split(" -> ")[1] for line in paging_silences(slack, paging(rules))} == {
        "slack-oncall-alerts"}


@pytest.mark.parametrize("interval,when,expected", [
    ({"times": [{"start_time": "20:00", "end_time": "24:00"}]}, datetime(2028, 3, 1, 23, 59, tzinfo=UTC), True),
    ({"times": [{"start_time": "20:00", "end_time": "24:00"}]}, datetime(2028, 3, 1, 19, 59, tzinfo=UTC), False),
    ({"times": [{"start_time": "09:00", "end_time": "17:00"}]}, datetime(2028, 3, 1, 17, 0, tzinfo=UTC), False),
    ({"weekdays": ["saturday:sunday"]}, datetime(2028, 3, 4, 12, 0, tzinfo=UTC), True),  # a Saturday
    ({"weekdays": ["saturday:sunday"]}, datetime(2028, 3, 6, 12, 0, tzinfo=UTC), False),  # a Monday
    ({"days_of_month": ["-1"]}, datetime(2028, 2, 29, 12, 0, tzinfo=UTC), True),  # the last day of a leap February
    ({"days_of_month": ["-1"]}, datetime(2028, 2, 28, 12, 0, tzinfo=UTC), False),
    ({"months": ["december"], "days_of_month": ["24:26"]}, datetime(2028, 12, 25, 3, 0, tzinfo=UTC), True),
    ({"months": ["11:12"]}, datetime(2028, 10, 31, 3, 0, tzinfo=UTC), False),
    ({"years": ["2027:2028"]}, datetime(2028, 1, 1, 0, 0, tzinfo=UTC), True),
    # 07:30 in Berlin is 06:30 UTC in winter
    ({"times": [{"start_time": "07:00", "end_time": "08:00"}], "location": "Europe/Berlin"},
     datetime(2028, 1, 10, 6, 30, tzinfo=UTC), True),
])
def test_a_time_interval_holds_as_alertmanager_reads_it(interval, when, expected):
    assert holds(interval, when) is expected


def test_mute_wins_and_active_limits():
    am = {"time_intervals": [rulekit.NIGHTS, rulekit.OFFICE]}
    night, office = datetime(2028, 3, 6, 22, 0, tzinfo=UTC), datetime(2028, 3, 6, 10, 0, tzinfo=UTC)
    assert delivers(am, {}, night) and delivers(am, {}, office)
    assert not delivers(am, {"mute_time_intervals": ["nights"]}, night)
    assert not delivers(am, {"active_time_intervals": ["office"]}, night)
    assert delivers(am, {"active_time_intervals": ["office"]}, office)
    assert silent_times(am, {}) == []
    assert len(silent_times(am, {"active_time_intervals": ["office"]})) > len(silent_times(
        am, {"mute_time_intervals": ["nights"]})) > 0


def test_a_wrong_interval_is_a_clear_error():
    with pytest.raises(TimeIntervalError, match="time interval 'weekends', which is not defined; defined: nights"):
        delivers({"time_intervals": [rulekit.NIGHTS]}, {"mute_time_intervals": ["weekends"]},
                 datetime(2028, 1, 1, tzinfo=UTC))
    with pytest.raises(TimeIntervalError, match="weekday 'mondays' is invalid: expected one of monday, "):
        holds({"weekdays": ["mondays"]}, datetime(2028, 1, 1, tzinfo=UTC))
    with pytest.raises(TimeIntervalError, match="time '25:00' is invalid: expected HH:MM from 00:00 to 24:00"):
        holds({"times": [{"start_time": "25:00", "end_time": "26:00"}]}, datetime(2028, 1, 1, tzinfo=UTC))
