"""When a route delivers: Alertmanager's time intervals (`time_intervals`, and the older top-level
`mute_time_intervals`) evaluated with code of our own, as `amtool config routes test` ignores them. A
route named in `mute_time_intervals` is silent while any of them holds; one with `active_time_intervals`
only while one of them holds. Neither is inherited by child routes (Alertmanager sets them from each
route's own configuration).

    silent_times(am, route, year=2028)  # the sampled times at which `route` sends nothing

A page muted at night is a page nobody gets at 3 a.m.; the fast tier (tests/rules) holds every route that
delivers a paging alert to "always", unless the runbook promises otherwise.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from alertdrill.alerting.routing import delivering_route_nodes

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


class TimeIntervalError(ValueError):
    """A time interval Alertmanager would refuse, or one the routes name that is not defined."""


def definitions(am: dict) -> dict[str, list[dict]]:
    """name -> its list of time intervals, from `time_intervals` and the older `mute_time_intervals`."""
    found: dict[str, list[dict]] = {}
    for entry in (am.get("time_intervals") or []) + (am.get("mute_time_intervals") or []):
        found[str(entry["name"])] = list(entry.get("time_intervals") or [])
    return found


def holds(interval: dict, when: datetime) -> bool:
    """Whether one time interval (times, weekdays, days_of_month, months, years, location) holds at `when`:
    every field given must hold; a field left out holds always."""
    local = when.astimezone(ZoneInfo(interval["location"]) if interval.get("location") else timezone.utc)
    minute = local.hour * 60 + local.minute
    times = interval.get("times") or []
    if times and not any(_minutes(t["start_time"]) <= minute < _minutes(t["end_time"]) for t in times):
        return False
    checks = (("weekdays", local.weekday(), _weekday), ("months", local.month - 1, _month),
              ("years", local.year, int))
    for field, value, parse in checks:
        ranges = interval.get(field) or []
        if ranges and not any(lo <= value <= hi for lo, hi in (_range(r, parse) for r in ranges)):
            return False
    days = interval.get("days_of_month") or []
    return not days or any(_day_in(r, local.date()) for r in days)


def delivers(am: dict, route: dict, when: datetime, named: dict[str, list[dict]] | None = None) -> bool:
    """Whether `route` (a node of am's routing tree) sends notifications at `when` (`named`: am's
    definitions, when the caller has them)."""
    named = definitions(am) if named is None else named

    def any_holds(names: list[str]) -> bool:
        for name in names:
            if name not in named:
                raise TimeIntervalError(f"a route names the time interval {name!r}, which is not defined; defined: "
                                        f"{', '.join(named) or 'none'}")
            if any(holds(i, when) for i in named[name]):
                return True
        return False

    if any_holds(list(route.get("mute_time_intervals") or [])):
        return False
    active = list(route.get("active_time_intervals") or [])
    return not active or any_holds(active)


def samples(am: dict, year: int = 2028) -> list[datetime]:
    """Times to look at: every day of `year` (a leap year: every weekday, day of the month and month occurs),
    on every half hour and at every start and end minute any interval names (UTC and each location's)."""
    marks = {(h, 30) for h in range(24)} | {(h, 0) for h in range(24)}
    named = definitions(am)
    for intervals in named.values():
        for i in intervals:
            for t in i.get("times") or []:
                for edge in (t["start_time"], t["end_time"]):
                    m = _minutes(edge) % 1440
                    marks |= {(m // 60, m % 60), ((m - 1) % 1440 // 60, (m - 1) % 60)}
    zones = {timezone.utc} | {ZoneInfo(i["location"]) for ints in named.values() for i in ints
                              if i.get("location")}
    day, out = date(year, 1, 1), []
    while day.year == year:
        out += [datetime(day.year, day.month, day.day, h, m, tzinfo=z) for z in zones for h, m in sorted(marks)]
        day += timedelta(days=1)
    return out


def silent_times(am: dict, route: dict, year: int = 2028) -> list[datetime]:
    """The sampled times at which `route` sends nothing ([] for a route without time intervals)."""
    if not (route.get("mute_time_intervals") or route.get("active_time_intervals")):
        return []
    named = definitions(am)
    return [t for t in samples(am, year) if not delivers(am, route, t, named)]


def paging_silences(am: dict, paging: dict[str, dict[str, str]]) -> list[str]:
    """For each paging alert (name -> the labels its rule gives it), every route that delivers it and is
    silent at some time of the year: one line each, naming the alert, the receiver and when."""
    out, silent_of = [], {}  # route node -> its silent times, worked out once however many alerts it carries
    for alert, labels in paging.items():
        for receiver, route, _timers in delivering_route_nodes(am, labels):
            if id(route) not in silent_of:
                silent_of[id(route)] = silent_times(am, route)
            silent = silent_of[id(route)]
            if silent:
                out.append(f"{alert} -> {receiver}: the route that delivers this page is {describe(silent)} "
                           f"(mute_time_intervals {route.get('mute_time_intervals') or []}, active_time_intervals "
                           f"{route.get('active_time_intervals') or []}); the runbook promises pages at any hour")
    return out


def describe(times: list[datetime], limit: int = 3) -> str:
    """'silent at 504 of the sampled times, e.g. Mon 2028-01-03 20:00 UTC, ...'."""
    shown = ", ".join(t.strftime("%a %Y-%m-%d %H:%M %Z") for t in sorted(times)[:limit])
    return f"silent at {len(times)} of the sampled times, e.g. {shown}"


def _minutes(hhmm: str) -> int:
    m = re.fullmatch(r"(\d\d):(\d\d)", str(hhmm).strip())
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59 or (int(m.group(1)) == 24 and int(m.group(2))):
        raise TimeIntervalError(f"time {hhmm!r} is invalid: expected HH:MM from 00:00 to 24:00")
    return int(m.group(1)) * 60 + int(m.group(2))


def _range(text, parse) -> tuple[int, int]:
    lo, _, hi = str(text).strip().partition(":")
    return parse(lo), parse(hi or lo)


def _weekday(name: str) -> int:
    return _index(WEEKDAYS, name, "weekday")


def _month(name: str) -> int:
    return int(name) - 1 if name.strip().isdigit() else _index(MONTHS, name, "month")


def _index(names: tuple[str, ...], name: str, what: str) -> int:
    try:
        return names.index(name.strip().lower())
    except ValueError:
        raise TimeIntervalError(f"{what} {name!r} is invalid: expected one of {', '.join(names)}") from None


def _day_in(text, day: date) -> bool:
    """A days_of_month range: 1-31, or negative from the end of the month (-1 is the last day)."""
    last = ((day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).day
    lo, hi = _range(text, int)
    lo, hi = (last + 1 + lo if lo < 0 else lo), (last + 1 + hi if hi < 0 else hi)
    return lo <= day.day <= hi
