"""Which alerts an edit of the alerting's own files can change, by what the files mean rather than which
lines moved: each function takes a file's two versions (parsed) and returns alert -> why.

- rules: an alerting rule that differs (its expression, `for`, labels, annotations, its group's interval),
  and the alerts whose expression reads a recording rule that differs;
- the routing: an alert whose route path (each route from the root to the one that delivers it, children
  aside), the receivers it reaches, the time intervals its routes name or the inhibit rules that match it
  differ; a global setting selects every alert;
- the runbook: an alert's section (heading and text) or index row, and every alert a shared table reaches
  (a severity's row, a receiver's timing or Receivers row; the pipeline and grouping tables: every alert).

A file that does not parse on one side is Unreadable: what it means cannot be compared.
"""
from __future__ import annotations

import json
import re
from dataclasses import replace

import yaml

from alertdrill.alerting import routing
from alertdrill.alerting.notifications import templated_fields


class Unreadable(ValueError):
    """One version of a file does not parse."""


def load_yaml(text: str | None, what: str) -> dict:
    if text is None:
        return {}
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Unreadable(f"{what} is not valid YAML ({' '.join(str(exc).split())[:160]})") from None
    return doc if isinstance(doc, dict) else {}


def _canon(value) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# ------------------------------------------------------------------------------------------------ rules
def _rules(docs: list[dict], key: str) -> dict[str, dict]:
    """name -> the rule (`alert` or `record`) with its group's settings under `group`, first of each name."""
    out: dict[str, dict] = {}
    for doc in docs:
        for group in doc.get("groups") or []:
            if not isinstance(group, dict):
                continue
            settings = {k: v for k, v in group.items() if k not in ("rules", "name")}
            for rule in group.get("rules") or []:
                if isinstance(rule, dict) and rule.get(key):
                    out.setdefault(str(rule[key]), {**rule, "group": settings})
    return out


def _differing(old: dict, new: dict) -> list[str]:
    keys = []
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            keys += [f"{k}.{sub}" for sub in _differing(a, b)]
        else:
            keys.append(str(k))
    return keys


def rule_changes(old_docs: list[dict], new_docs: list[dict]) -> dict[str, str]:
    """alert -> what of its rule changed, over the rule files that changed (both versions)."""
    old, new = _rules(old_docs, "alert"), _rules(new_docs, "alert")
    out = {}
    for alert in sorted(set(old) | set(new)):
        if alert not in new:
            out[alert] = "its rule was removed"
        elif alert not in old:
            out[alert] = "its rule is new"
        elif old[alert] != new[alert]:
            out[alert] = f"its rule changed ({', '.join(_differing(old[alert], new[alert]))})"
    old_rec, new_rec = _rules(old_docs, "record"), _rules(new_docs, "record")
    records = sorted(r for r in set(old_rec) | set(new_rec) if old_rec.get(r) != new_rec.get(r))
    for alert, rule in {**old, **new}.items():
        read = [r for r in records if re.search(rf"(?<![\w:]){re.escape(r)}(?![\w:])", str(rule.get("expr", "")))]
        if read and alert not in out:
            out[alert] = f"the recording rule {', '.join(read)} its expression reads changed"
    return out


def alert_labels(docs: list[dict]) -> dict[str, dict[str, str]]:
    """alert -> the labels its alerts carry for sure (its name and the rule's own labels)."""
    return {a: {"alertname": a, **{k: str(v) for k, v in (r.get("labels") or {}).items()}}
            for a, r in _rules(docs, "alert").items()}


# ---------------------------------------------------------------------------------------------- routing
def _receivers(am: dict) -> dict[str, dict]:
    return {r.get("name"): r for r in am.get("receivers") or [] if isinstance(r, dict)}


def _intervals(am: dict) -> dict[str, object]:
    found = {}
    for key in ("time_intervals", "mute_time_intervals"):
        found.update({t.get("name"): t for t in am.get(key) or [] if isinstance(t, dict)})
    return found


def route_view(am: dict, labels: dict[str, str]) -> str:
    """Everything of the routing that decides how an alert with `labels` is delivered, as one string."""
    if not isinstance(am.get("route"), dict):
        return ""
    paths = routing.delivering_paths(am, labels)
    intervals = _intervals(am)
    named = {n for path in paths for node in path
             for n in (node.get("mute_time_intervals") or []) + (node.get("active_time_intervals") or [])}
    return _canon({"paths": [[{k: v for k, v in node.items() if k != "routes"} for node in path] for path in paths],
                   "intervals": {n: intervals.get(n) for n in sorted(named, key=str)}})


def reached(am: dict, labels: dict[str, str]) -> list[str]:
    return [r for r, _timers in routing.delivering_routes(am, labels)] if isinstance(am.get("route"), dict) else []


def _inhibit_matches(rule: dict, side: str, labels: dict[str, str]) -> bool:
    as_route = {"matchers": rule.get(f"{side}_matchers"), "match": rule.get(f"{side}_match"),
                "match_re": rule.get(f"{side}_match_re")}
    return any(as_route.values()) and routing.matches(as_route, labels)


def inhibit_partners(am: dict, labels: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """alert -> the alerts an inhibit rule of `am` pairs it with (as source or target)."""
    out: dict[str, set[str]] = {}
    for rule in am.get("inhibit_rules") or []:
        if not isinstance(rule, dict):
            continue
        sources = {a for a, ls in labels.items() if _inhibit_matches(rule, "source", ls)}
        targets = {a for a, ls in labels.items() if _inhibit_matches(rule, "target", ls)}
        for a in sources:
            out.setdefault(a, set()).update(targets - {a})
        for a in targets:
            out.setdefault(a, set()).update(sources - {a})
    return out


def _changed_inhibitions(old: dict, new: dict, labels: dict[str, dict[str, str]]) -> set[str]:
    before = {_canon(r): r for r in old.get("inhibit_rules") or [] if isinstance(r, dict)}
    after = {_canon(r): r for r in new.get("inhibit_rules") or [] if isinstance(r, dict)}
    changed = [r for k, r in before.items() if k not in after] + [r for k, r in after.items() if k not in before]
    return {a for r in changed for a, ls in labels.items()
            if _inhibit_matches(r, "source", ls) or _inhibit_matches(r, "target", ls)}


def templated_receivers(am: dict) -> set[str]:
    """The receivers with a field that renders a template (`{{ ... }}`)."""
    return {name for name, r in _receivers(am).items() if templated_fields(r)}


def routing_changes(old: dict, new: dict, labels: dict[str, dict[str, str]]) -> dict[str, str]:
    """alert -> how the routing changed for it, between two versions of the Alertmanager configuration."""
    if _canon(old.get("global")) != _canon(new.get("global")):
        return {a: "the Alertmanager global settings changed (every receiver falls back on them)" for a in labels}
    old_r, new_r = _receivers(old), _receivers(new)
    inhibited = _changed_inhibitions(old, new, labels)
    templates = _canon(old.get("templates")) != _canon(new.get("templates"))
    out = {}
    for alert, ls in labels.items():
        before, after = reached(old, ls), reached(new, ls)
        changed_r = sorted(r for r in set(before) | set(after) if _canon(old_r.get(r)) != _canon(new_r.get(r)))
        if before != after:
            out[alert] = f"its receivers changed: {before} -> {after}"
        elif route_view(old, ls) != route_view(new, ls):
            out[alert] = f"a route that delivers it to {after} changed (matchers, timers, grouping or time intervals)"
        elif changed_r:
            out[alert] = f"its receiver {', '.join(changed_r)} changed"
        elif alert in inhibited:
            out[alert] = "an inhibit rule that matches it changed"
        elif templates and set(after) & templated_receivers(new):
            out[alert] = "the configuration's list of notification templates changed, and its receivers render them"
    return out


# ---------------------------------------------------------------------------------------------- runbook
def section_changes(old, new) -> dict[str, str]:
    """alert -> how its runbook section changed (old, new: parsed Runbooks, or None)."""
    def view(rb, alert):
        if rb is None or alert not in rb:
            return None
        s = rb.section(alert)
        return (s.heading, s.text)

    names = set(old.alert_names() if old else []) | set(new.alert_names() if new else [])
    out = {}
    for alert in sorted(names):
        a, b = view(old, alert), view(new, alert)
        if a != b:
            out[alert] = ("its runbook section was removed" if b is None else "its runbook section is new"
                          if a is None else "its runbook section changed")
    return out


def promise_changes(old, new) -> tuple[dict[str, str], str]:
    """(alert -> which promise of it changed, why every alert is selected or "") for two versions of the
    runbook's promises (alertdrill.runbook.promises.Promises)."""
    if (old.scrape_ms, old.evaluation_ms, old.group_by) != (new.scrape_ms, new.evaluation_ms, new.group_by):
        return {}, "the runbook's pipeline intervals or grouping changed: every deadline is taken from them"
    out = {}
    for name, p in new.alerts.items():
        was = old.alerts.get(name)
        timers = [r for r in p.receivers if old.timers.get(r) != new.timers.get(r)]
        deliveries = [r for r in p.receivers if old.deliveries.get(r) != new.deliveries.get(r)]
        if was is None:
            out[name] = "its row in the runbook's alert index is new"
        elif replace(was, response_time="") != replace(p, response_time=""):
            out[name] = "its row in the runbook's alert index changed"
        elif was.response_time != p.response_time or (p.severity in old.paged) != (p.severity in new.paged):
            out[name] = f"the runbook's severity table changed for {p.severity}"
        elif timers:
            out[name] = f"the runbook's notification timing of {', '.join(timers)} changed"
        elif deliveries:
            out[name] = f"the runbook's Receivers table changed for {', '.join(deliveries)}"
    out.update({n: "its row in the runbook's alert index was removed" for n in old.alerts if n not in new.alerts})
    return out, ""


def promised_partners(promises) -> dict[str, set[str]]:
    """alert -> the alerts the runbook's index says it inhibits or is inhibited by."""
    out: dict[str, set[str]] = {}
    for name, p in promises.alerts.items():
        for inh in p.inhibits:
            out.setdefault(name, set()).add(inh.target)
            out.setdefault(inh.target, set()).add(name)
    return out
