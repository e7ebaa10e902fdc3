"""The Alertmanager routing tree, walked as Alertmanager walks it: which routes notify for a label set
(children in order, `continue` to go on after a match, timers and receiver inherited from the parent).
Used where amtool cannot answer what is needed (the effective timers of each delivering route) or is
not installed (a scaffold's receivers)."""
from __future__ import annotations

import re

from alertdrill.alerting.durations import parse_ms

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
TIMERS = ("group_wait", "group_interval", "repeat_interval")
AM_DEFAULT_TIMERS = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}


def matches(route: dict, labels: dict[str, str]) -> bool:
    """The route's matchers (and the older `match` / `match_re`) all hold for `labels`."""
    checks = [(k, "=", str(v)) for k, v in (route.get("match") or {}).items()]
    checks += [(k, "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    for m in route.get("matchers") or []:
        hit = _MATCHER.match(str(m))
        if hit:
            checks.append(hit.groups())
    for name, op, value in checks:
        have = labels.get(name, "")
        ok = {"=": have == value, "!=": have != value, "=~": re.fullmatch(value, have) is not None,
              "!~": re.fullmatch(value, have) is None}[op]
        if not ok:
            return False
    return True


def delivering_routes(am: dict, labels: dict[str, str]) -> list[tuple[str, dict[str, int]]]:
    """(receiver, effective timers in ms) of every route that notifies for `labels`."""
    return [(receiver, timers) for receiver, _route, timers in delivering_route_nodes(am, labels)]


def delivering_route_nodes(am: dict, labels: dict[str, str]) -> list[tuple[str, dict, dict[str, int]]]:
    """(receiver, the route node itself, effective timers in ms) of every route that notifies for `labels`:
    the node carries what is not inherited (its own mute and active time intervals)."""
    out: list[tuple[str, dict, dict[str, int]]] = []
    for path in delivering_paths(am, labels):
        inherited = {**AM_DEFAULT_TIMERS, "receiver": None}
        for node in path:
            inherited = {k: node.get(k, v) for k, v in inherited.items()}
        out.append((inherited["receiver"], path[-1], {k: parse_ms(inherited[k]) for k in TIMERS}))
    return out


def delivering_paths(am: dict, labels: dict[str, str]) -> list[list[dict]]:
    """The routes from the root to each route that notifies for `labels` (root first): children in order,
    going on after a match only with `continue`."""
    out: list[list[dict]] = []

    def walk(route: dict, path: list[dict]) -> None:
        path = [*path, route]
        matched = False
        for child in route.get("routes") or []:
            if matches(child, labels):
                matched = True
                walk(child, path)
                if not child.get("continue"):
                    break
        if not matched:
            out.append(path)

    walk(am["route"], [])
    return out
