"""Helpers of the fast rule/routing tests: load the rules, the unit tests and the expectations, run
promtool/amtool on (possibly mutated) copies, and find coverage gaps."""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import yaml

from alertdrill.adopt.check import inhibitions, model
from alertdrill.adopt.check import routing as routing_check
from alertdrill.adopt.check.rules import rule_promise_problems
from alertdrill.alerting.promtools import Tool
from alertdrill.alerting.durations import parse_ms as parse_duration

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RULES = REPO / "stack" / "prometheus" / "rules" / "alerts.yml"
ALERTMANAGER = REPO / "stack" / "alertmanager" / "alertmanager.yml"
UNIT_TESTS = HERE / "alerts_test.yml"
EXPECTED = HERE / "expected.yml"
RUNBOOK = REPO / "docs" / "runbook.md"
WORKERS = max(2, os.cpu_count() or 2)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def promises():
    """The runbook's promises (alert index, notification timing): the one specification of the alerts."""
    from alertdrill.runbook.parse import parse_runbook
    from alertdrill.runbook.promises import parse_promises

    return parse_promises(parse_runbook(RUNBOOK))


def load_expected() -> dict:
    """What the rules and the routing must say: each alert's promise from the runbook (severity, for,
    routing labels, receivers, inhibitions), plus tests/rules/expected.yml's stack wiring (receiver
    webhooks, label sets no rule produces)."""
    from alertdrill.alerting.durations import format_ms

    spec = load_yaml(EXPECTED)
    pr = promises()
    spec["alerts"] = {a.alert: {"severity": a.severity, "for": format_ms(a.for_ms), "receivers": list(a.receivers),
                                **({"revenue_impact": True} if a.labels.get("revenue_impact") == "true" else {})}
                      for a in pr.alerts.values()}
    spec["inhibitions"] = [{"source": a.alert, "target": i.target, "equal": list(i.equal)}
                           for a in pr.alerts.values() for i in a.inhibits]
    return spec


# The shipped checks' readers (alertdrill.adopt.check), under the names these tests have always used.
alert_rules = model.alert_rules  # alert name -> rule (first one of that name)
rule_labels = model.rule_labels
grouping_labels = routing_check.grouping_labels
route_check = routing_check.route_check  # amtool config routes test --verify.receivers: (ok, resolved)
inhibition_pairs = inhibitions.inhibition_pairs


def scenario_modules(kind: type) -> list:
    """The scenario modules (scenarios/test_*.py) whose EXPECTATION is a `kind`: AlertExpectation for the
    drills of an alert, QuietExpectation for the quiet drills."""
    import importlib
    import pkgutil

    import scenarios

    modules = (importlib.import_module(f"scenarios.{m.name}") for m in pkgutil.iter_modules(scenarios.__path__)
               if m.name.startswith("test_"))
    return [m for m in modules if isinstance(m.EXPECTATION, kind)]


LABEL_DOMAIN = REPO / "scenarios" / "platform" / "label_domain.yml"


def label_domain() -> dict[str, list[str]]:
    """label -> every value the platform gives it (scenarios/platform/label_domain.yml)."""
    return {k: list(v) for k, v in load_yaml(LABEL_DOMAIN).items() if k in ("endpoint", "route")}


def domain_label(rule: dict) -> str | None:
    """The label of the domain the rule's alert is per (its `by (...)`), if any: every value of it must
    keep the promise."""
    return routing_check.domain_label(rule, label_domain())


def per_value_domains(rules: dict | None = None) -> dict[str, list[str]]:
    """alert -> every value of the endpoint or route label it is per (alerts without one left out)."""
    rules = rules if rules is not None else load_yaml(RULES)
    return {a: label_domain()[label] for a, r in alert_rules(rules).items() if (label := domain_label(r))}


def labels_for_every_value(rule: dict) -> list[dict[str, str]]:
    """The labels an alert of `rule` carries, once per value of its domain label (or once, without one)."""
    return routing_check.labels_for_every_value(rule, label_domain())


# ---------------------------------------------------------------------------------------- promtool
def unit_tests_for(tests: dict, alerts: Iterable[str] | None = None) -> dict:
    """The unit-test document restricted to the groups that check one of alerts (all if None)."""
    doc = copy.deepcopy(tests)
    if alerts is not None:
        wanted = set(alerts)
        doc["tests"] = [g for g in doc["tests"] if group_alerts(g) & wanted]
    return doc


def group_alerts(group: dict) -> set[str]:
    """The alerts a unit-test group checks: its alert_rule_test names and the alertname="..." its
    promql_expr_test queries (of ALERTS) select."""
    names = {t.get("alertname") for t in group.get("alert_rule_test") or []}
    for t in group.get("promql_expr_test") or []:
        names |= set(re.findall(r'alertname="(\w+)"', t.get("expr", "")))
    return names - {None}


def group_expects_firing(group: dict, alert: str) -> bool:
    return (any(t.get("alertname") == alert and t.get("exp_alerts") for t in group.get("alert_rule_test") or [])
            or any(f'alertname="{alert}"' in t.get("expr", "") and t.get("exp_samples")
                   for t in group.get("promql_expr_test") or []))


def run_unit_tests(promtool: Tool, tests: dict, rules_path: Path, workdir: Path, name: str = "test.yml"):
    """promtool test rules on tests (a parsed unit-test file) pointed at rules_path. All groups in one
    invocation. Returns the CompletedProcess."""
    doc = dict(tests)
    doc["rule_files"] = [str(Path(rules_path).resolve())]
    path = workdir / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=10_000))
    return promtool.run("test", "rules", path, cwd=workdir)


# ---------------------------------------------------------------------------------------- coverage
KINDS = ("fires", "silent_before_for", "resolves", "silent_below")


def unit_test_kinds(tests: dict) -> dict[str, set[str]]:
    """For each alert, which kinds of check the unit tests hold:
    fires              firing at some eval_time, every expected alert with exp_labels and exp_annotations
    silent_before_for  expected silent before the first firing time of the same group
    resolves           expected silent after a firing time of the same group
    silent_below       a group where the alert is checked but never expected to fire."""
    kinds: dict[str, set[str]] = {}
    for group in tests.get("tests") or []:
        checks: dict[str, list[tuple[int, list]]] = {}
        for t in group.get("alert_rule_test") or []:
            checks.setdefault(t["alertname"], []).append((parse_duration(t["eval_time"]), t.get("exp_alerts") or []))
        for alert, cs in checks.items():
            k = kinds.setdefault(alert, set())
            firing = [ts for ts, exp in cs if exp]
            if not firing:
                k.add("silent_below")
                continue
            if all("exp_labels" in e and "exp_annotations" in e for _ts, exp in cs for e in exp):
                k.add("fires")
            if any(not exp and ts < min(firing) for ts, exp in cs):
                k.add("silent_before_for")
            if any(not exp and ts > min(firing) for ts, exp in cs):
                k.add("resolves")
    return kinds


def coverage_gaps(runbook_alerts: Iterable[str], rules: dict, tests: dict, expected: dict) -> list[str]:
    """One line per gap: an alert of the runbook without a rule, a rule test of each kind, or a route
    test; and rules the runbook does not name."""
    names = list(runbook_alerts)
    have_rules = alert_rules(rules)
    kinds = unit_test_kinds(tests)
    routes = expected.get("alerts") or {}
    gaps = []
    for a in names:
        if a not in have_rules:
            gaps.append(f"{a}: no rule in {RULES.relative_to(REPO)}")
        missing = [k for k in KINDS if k not in kinds.get(a, set())]
        if missing:
            gaps.append(f"{a}: no rule test ({', '.join(missing)}) in {UNIT_TESTS.relative_to(REPO)}")
        if not (routes.get(a) or {}).get("receivers"):
            gaps.append(f"{a}: no route test (no receivers promised in the alert index of {RUNBOOK.relative_to(REPO)})")
    for a in have_rules:
        if a not in names:
            gaps.append(f"{a}: a rule the runbook has no section for")
    return gaps


# ---------------------------------------------------------------------------------------- mutation
@dataclass
class Mutant:
    kind: str
    alert: str
    detail: str
    rules: dict | None = None  # mutated rule document (None: unchanged)
    am: dict | None = None  # mutated Alertmanager document (None: unchanged)
    killed: bool | None = None
    by: str = ""
    path: Path | None = None  # where the mutated rules were written


_CMP_RE = re.compile(r"(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "!=", "!=": "=="}


def _with_rule(rules: dict, alert: str, change: Callable[[dict], str | None]) -> tuple[dict, str] | None:
    doc = copy.deepcopy(rules)
    for group in doc["groups"]:
        for rule in group.get("rules") or []:
            if rule.get("alert") == alert:
                detail = change(rule)
                return (doc, detail) if detail else None
    return None


def _threshold(factor_up: bool):
    def change(rule: dict) -> str | None:
        m = _CMP_RE.search(rule["expr"])
        if not m:
            return None
        old = float(m.group(2))
        new = (1 if factor_up else -1) if old == 0 else old * (1.5 if factor_up else 0.5)
        new_s = f"{new:g}"
        rule["expr"] = rule["expr"][:m.start(2)] + new_s + rule["expr"][m.end(2):]
        return f"{m.group(1)} {m.group(2)} -> {m.group(1)} {new_s}"
    return change


def _flip(rule: dict) -> str | None:
    m = _CMP_RE.search(rule["expr"])
    if not m:
        return None
    rule["expr"] = rule["expr"][:m.start(1)] + _FLIP[m.group(1)] + rule["expr"][m.end(1):]
    return f"{m.group(1)} -> {_FLIP[m.group(1)]}"


def _severity(rule: dict) -> str | None:
    old = (rule.get("labels") or {}).get("severity")
    if old not in ("critical", "warning"):
        return None
    rule["labels"]["severity"] = "warning" if old == "critical" else "critical"
    return f"{old} -> {rule['labels']['severity']}"


def _rename(rule: dict) -> str:
    rule["alert"] = rule["alert"] + "Renamed"
    return f"-> {rule['alert']}"


def _for_removed(rule: dict) -> str | None:
    if not rule.get("for"):
        return None
    old = rule.pop("for")
    return f"for {old} removed"


def _revenue_dropped(rule: dict) -> str | None:
    if (rule.get("labels") or {}).get("revenue_impact") is None:
        return None
    del rule["labels"]["revenue_impact"]
    return "revenue_impact label removed"


def _drift(fraction: float):
    """The threshold moved by a small fraction (a realistic edit: 1 -> 1.05), where it is not 0."""
    def change(rule: dict) -> str | None:
        m = _CMP_RE.search(rule["expr"])
        if not m or float(m.group(2)) == 0:
            return None
        new_s = f"{float(m.group(2)) * (1 + fraction):.6g}"
        rule["expr"] = rule["expr"][:m.start(2)] + new_s + rule["expr"][m.end(2):]
        return f"{m.group(1)} {m.group(2)} -> {m.group(1)} {new_s}"
    return change


def _for_by(minutes: int):
    """`for` one evaluation (1m) longer or shorter (not below 1m: with 1m evaluations a shorter `for`
    fires at the same evaluation, which no test can tell apart)."""
    def change(rule: dict) -> str | None:
        old = parse_duration(rule.get("for") or "0s")
        new = old + minutes * 60_000
        if new < 60_000:
            return None
        from alertdrill.alerting.durations import format_ms
        rule["for"] = format_ms(new)
        return f"for {format_ms(old)} -> {rule['for']}"
    return change


def _window_doubled(rule: dict) -> str | None:
    if "[5m]" not in rule["expr"]:
        return None
    rule["expr"] = rule["expr"].replace("[5m]", "[10m]")
    return "[5m] -> [10m]"


def _grouping_label_dropped(rule: dict) -> str | None:
    m = re.search(r"\bby\s*\(([^)]*)\)", rule["expr"])
    labels = [x.strip() for x in m.group(1).split(",")] if m else []
    kept = [x for x in labels if x != "le"]
    if not kept:
        return None
    new = ", ".join(x for x in labels if x != kept[-1])
    rule["expr"] = rule["expr"][:m.start(1)] + new + rule["expr"][m.end(1):]
    return f"by ({m.group(1)}) -> by ({new})"


def _value_ignored(rule: dict) -> str | None:
    """The rule's metric selector skips one value of its domain label: `errors_total{endpoint!~"..."}`."""
    label = domain_label(rule)
    if not label:
        return None
    skipped = label_domain()[label][0]
    expr, n = re.subn(r"\b(errors_total|request_duration_seconds_bucket|ratelimit_block_total)\[",
                      rf'\1{{{label}!="{skipped}"}}[', rule["expr"])
    if not n:
        return None
    rule["expr"] = expr
    return f'{label}!="{skipped}" in its selector'


RULE_MUTATIONS: dict[str, Callable[[dict], str | None]] = {
    "threshold drift +5%": _drift(0.05),
    "threshold drift -5%": _drift(-0.05),
    "threshold drift +20%": _drift(0.20),
    "threshold drift -20%": _drift(-0.20),
    "for one evaluation longer": _for_by(1),
    "for one evaluation shorter": _for_by(-1),
    "window doubled": _window_doubled,
    "grouping label dropped": _grouping_label_dropped,
    "threshold raised": _threshold(True),
    "threshold lowered": _threshold(False),
    "comparison flipped": _flip,
    "severity changed": _severity,
    "alert renamed": _rename,
    "for removed": _for_removed,
    "revenue label dropped": _revenue_dropped,
    "one endpoint or route ignored": _value_ignored,
}


def rule_mutants(rules: dict) -> list[Mutant]:
    out = []
    for kind, change in RULE_MUTATIONS.items():
        for alert in alert_rules(rules):
            res = _with_rule(rules, alert, change)
            if res:
                out.append(Mutant(kind, alert, res[1], rules=res[0]))
    return out


def receiver_dropped(am: dict, alert: str, receiver: str) -> dict:
    """The routing with `alert` no longer reaching `receiver`: every route to it excludes the alert
    (alertname!="..."), and if it is the root's default it becomes a receiver with no configuration."""
    doc = copy.deepcopy(am)

    def walk(route: dict, root: bool) -> None:
        if route.get("receiver") == receiver:
            if root:
                route["receiver"] = "mutant-nowhere"
                doc["receivers"].append({"name": "mutant-nowhere"})
            else:
                route["matchers"] = list(route.get("matchers") or []) + [f'alertname!="{alert}"']
        for child in route.get("routes") or []:
            walk(child, False)

    walk(doc["route"], True)
    return doc


def routing_mutants(am: dict, expected: dict) -> list[Mutant]:
    out = []
    per_endpoint_receivers = {r for a in per_value_domains() for r in (expected["alerts"].get(a) or {}).get("receivers", [])}
    for alert, spec in (expected.get("alerts") or {}).items():
        for r in spec.get("receivers") or []:
            out.append(Mutant("receiver dropped", alert, f"{alert} -/-> {r}", am=receiver_dropped(am, alert, r)))
    for i, route in enumerate(am["route"].get("routes") or []):
        doc = copy.deepcopy(am)
        doc["route"]["routes"][i]["group_wait"] = "1m"
        out.append(Mutant("timer changed", route["receiver"], f"group_wait 1m on the {route['receiver']} route",
                          am=doc))
        if route.get("matchers"):
            doc = copy.deepcopy(am)
            doc["route"]["routes"][i]["matchers"] = [m.replace('"critical"', '"warning"') if "severity" in m else m
                                                     for m in route["matchers"]]
            if doc["route"]["routes"][i]["matchers"] != route["matchers"]:
                out.append(Mutant("matcher changed", route["receiver"], "severity=critical -> warning", am=doc))
        if any('"critical"' in str(m) for m in route.get("matchers") or []):
            out += _muted_mutants(am, i, route["receiver"])
            if route["receiver"] in per_endpoint_receivers:  # else no alert it delivers has an endpoint
                doc = copy.deepcopy(am)
                doc["route"]["routes"][i]["matchers"] = list(route["matchers"]) + ['endpoint!~"/billing.*"']
                out.append(Mutant("endpoint excluded", route["receiver"],
                                  f"the {route['receiver']} route skips /billing/* endpoints", am=doc))
    for label in am["route"].get("group_by") or []:
        doc = copy.deepcopy(am)
        doc["route"]["group_by"] = [x for x in doc["route"]["group_by"] if x != label]
        out.append(Mutant("group_by changed", label, f"group_by without {label}", am=doc))
    for i, rule in enumerate(am.get("inhibit_rules") or []):
        doc = copy.deepcopy(am)
        del doc["inhibit_rules"][i]
        out.append(Mutant("inhibition removed", str(rule.get("target_matchers")), "inhibit rule deleted", am=doc))
        doc = copy.deepcopy(am)
        doc["inhibit_rules"][i]["equal"] = ["alertname"]
        out.append(Mutant("inhibition equal changed", str(rule.get("target_matchers")),
                          f"equal {rule.get('equal')} -> [alertname]", am=doc))
    return out


NIGHTS = {"name": "nights", "time_intervals": [{"times": [{"start_time": "20:00", "end_time": "24:00"},
                                                           {"start_time": "00:00", "end_time": "07:00"}]}]}
OFFICE = {"name": "office", "time_intervals": [{"weekdays": ["monday:friday"],
                                                 "times": [{"start_time": "09:00", "end_time": "17:00"}]}]}


def _muted_mutants(am: dict, i: int, receiver: str) -> list[Mutant]:
    """The paging route silenced some of the time: muted at night, or active only in office hours."""
    out = []
    for interval, key, what in ((NIGHTS, "mute_time_intervals", "muted 20:00-07:00"),
                                (OFFICE, "active_time_intervals", "active only Mon-Fri 09:00-17:00")):
        doc = copy.deepcopy(am)
        doc.setdefault("time_intervals", []).append(interval)
        doc["route"]["routes"][i][key] = [interval["name"]]
        out.append(Mutant("paging route silenced", receiver, f"the {receiver} route {what}", am=doc))
    return out


def run_parallel(fn: Callable, items: list, workers: int = WORKERS) -> list:
    return routing_check.run_parallel(fn, items, workers)


def routing_promise_violations(am: dict, rules: dict, promised) -> list[str]:
    """Where the routing breaks the runbook's promises (alertdrill.adopt.check.routing, on every value of
    the platform's label domain): receivers (in order), every delivering route's timers, the grouping
    labels, and pages at any hour. One line per violation, naming both sides."""
    return [str(p) for p in routing_check.routing_promise_problems(am, rules, promised, label_domain())]


def rule_promise_violations(rules: dict, promised, only: str | None = None) -> list[str]:
    """Where the rules break the runbook's alert index (alertdrill.adopt.check.rules): a promised alert
    without a rule, severity, `for`, threshold, windows and routing labels. One line per violation."""
    return [str(p) for p in rule_promise_problems(rules, promised, only=only)]
