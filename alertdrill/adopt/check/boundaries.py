"""promtool unit-test groups generated from the runbook's promises: each alert's metric held just past the
promised threshold (x1.04, where the alert must fire) and just short of it (x0.96, where it must stay
silent), evaluated well after its window and `for`. A threshold that drifts 5 % or more either way fails.

What drives a metric to a value depends on the expression. `derive` knows the generic shapes, a rule
`<expr> <op> <constant>` whose `<expr>` is a gauge selector or rate()/irate()/increase() of a counter
selector, under any sum/min/max/avg; a platform adds its own (ratios, histogram quantiles) as `Drive`s of
its own. A rule of no known shape is reported "not checked", never passed. With a label domain (label ->
every value the platform gives it), an alert per such label is driven on every value at once and must
fire once for each: a rule that ignores one value fires one alert short.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from alertdrill.alerting.comparison import split_threshold
from alertdrill.alerting.durations import format_ms, parse_ms

ABOVE, BELOW = 1.04, 0.96
Inputs = Callable[[float], list[dict]]  # a value of the watched expression -> promtool input_series
_SELECTOR = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\})?$')
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_COUNTER = re.compile(r"^(rate|irate|increase)\(\s*(.+?)\s*\[(\w+)\]\s*\)$", re.S)
_AGG = re.compile(r"^(sum|min|max|avg)\s*(?:(by|without)\s*\(([^)]*)\))?\s*\(", re.S)
_PLAIN = re.compile(r"[\w/.:-]+")


SHAPES = ("its expression is not a gauge or a counter's rate/irate/increase under sum/min/max/avg (a ratio, a "
          "quantile, ...): no generic way to drive it")


@dataclass(frozen=True)
class Drive:
    """How to make an alert's watched expression show a value: one Inputs per series set (one per value of
    its domain label, or one), each of which must raise its own alert."""
    makes: tuple[Inputs, ...]
    per_value: bool = False
    interval_ms: int = 60_000


def eval_at_ms(promise) -> int:
    """When to look: the window (at least 5m) and `for` long over."""
    return (max(promise.window_ms, 300_000) + promise.for_ms) // 60_000 * 60_000 + 300_000


def boundary_groups(promises, drives: dict[str, Drive]) -> list[dict]:
    """Two groups per driven alert: just on the alerting side it fires (once per series set), just on the
    healthy side it is silent."""
    groups = []
    for p in promises.alerts.values():
        drive = drives.get(p.alert)
        if drive is None:
            continue
        for value, fires in sides(p.threshold):
            groups.append(_group(p, drive, value, fires))
    return groups


def sides(threshold) -> list[tuple[float, bool]]:
    """(value, fires) on either side of the threshold; [] where there is no neighbourhood to test."""
    op, t = threshold.op, threshold.value
    if op in (">", ">=") and t != 0:
        return [(t * ABOVE, True), (t * BELOW, False)] if t > 0 else [(t * BELOW, True), (t * ABOVE, False)]
    if op in ("<", "<=") and t != 0:
        return [(t * BELOW, True), (t * ABOVE, False)] if t > 0 else [(t * ABOVE, True), (t * BELOW, False)]
    if op == "==" and t == 0:
        return [(0.0, True), (1.0, False)]
    return []


def _group(p, drive: Drive, value: float, fires: bool) -> dict:
    at = eval_at_ms(p)
    ratio = value / p.threshold.value if p.threshold.value else value
    every = f" on each of {len(drive.makes)} values" if drive.per_value else ""
    side = f"at {ratio:g} x its threshold" if p.threshold.value else f"at {value:g}"
    return {
        "name": f"{p.alert} {'fires' if fires else 'silent'} {side}{every} "
                f"({value:g}; the runbook promises {p.threshold}, for {format_ms(p.for_ms)})",
        "interval": format_ms(drive.interval_ms),
        "input_series": [s for make in drive.makes for s in make(value)],
        "promql_expr_test": [{"expr": f'count(ALERTS{{alertname="{p.alert}",alertstate="firing"}})',
                              "eval_time": format_ms(at),
                              "exp_samples": [{"value": len(drive.makes)}] if fires else []}],
    }


def derive(rule: dict, promise, domains: dict[str, list[str]] | None = None) -> Drive | str:
    """The generic Drive of a rule, or why there is none (a sentence)."""
    found = split_threshold(str(rule.get("expr", "")))
    if found is None or not found.whole:
        return ("its expression is not one comparison with a constant (`<expr> > 1`)" if found is None else
                "its comparison has an `and`/`or`/`unless` beside it, which the generated series cannot satisfy")
    if not sides(promise.threshold):
        return f"a threshold {promise.threshold} has no neighbourhood to hold the metric in"
    inner, by = _strip_aggregations(found.watch)
    if inner is None:
        return SHAPES
    kind, selector, window_ms = _core(inner)
    if kind is None:
        return SHAPES
    series = _series(selector, domains or {}, by)
    if isinstance(series, str):
        return series
    interval = min(60_000, window_ms // 5) if window_ms else 60_000
    steps = (eval_at_ms(promise) + 300_000) // interval
    makes = tuple(_inputs(kind, name, steps, interval, window_ms) for name in series[0])
    return Drive(makes, per_value=series[1], interval_ms=interval)


def _strip_aggregations(expr: str) -> tuple[str | None, set[str]]:
    """The expression under its sum/min/max/avg wrappers, and their `by` labels."""
    by: set[str] = set()
    while expr.startswith("("):
        close = _matching(expr, 0)
        if close != len(expr) - 1:
            break
        expr = expr[1:-1].strip()
    while (m := _AGG.match(expr)):
        close = _matching(expr, m.end() - 1)
        if close is None:
            return None, by
        rest = expr[close + 1:].strip()
        trailing = re.fullmatch(r"(?:(by|without)\s*\(([^)]*)\))?", rest)
        if trailing is None:
            return None, by
        for kw, labels in ((m.group(2), m.group(3)), (trailing.group(1), trailing.group(2))):
            if kw == "by":
                by |= {x.strip() for x in labels.split(",") if x.strip()}
        expr = expr[m.end():close].strip()
    return expr, by


def _matching(text: str, start: int) -> int | None:
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return None


def _core(expr: str) -> tuple[str | None, str, int]:
    """(kind, selector, window ms): ("gauge", sel, 0) or ("rate"/"irate"/"increase", sel, window)."""
    m = _COUNTER.match(expr)
    if m and _SELECTOR.match(m.group(2)):
        try:
            return m.group(1), m.group(2), parse_ms(m.group(3))
        except ValueError:
            return None, "", 0
    if _SELECTOR.match(expr) and not expr.startswith(("sum", "min", "max", "avg")):
        return "gauge", expr, 0
    return None, "", 0


def _series(selector: str, domains: dict[str, list[str]], by: set[str]) -> tuple[list[str], bool] | str:
    """The series names (with labels) that satisfy the selector, one per value of a domain label it is
    aggregated by; and whether they are per value."""
    name, matchers = _SELECTOR.match(selector).groups()
    labels = {}
    for label, op, value in _MATCHER.findall(matchers or ""):
        if op == "=":
            labels[label] = value
        elif op == "=~":
            first = value.split("|")[0]
            if not _PLAIN.fullmatch(first) or not re.fullmatch(value, first):
                return f'its matcher {label}=~"{value}" names no plain value to use'
            labels[label] = first
        elif (op == "!=" and value == "") or (op == "!~" and re.fullmatch(value, "")):
            return f'its matcher {label}{op}"{value}" needs a value to make up'
    per = sorted((by & set(domains)) - set(labels))
    fmt = lambda ls: name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(ls.items())) + "}"  # noqa: E731
    if per:
        return [fmt({**labels, per[0]: v}) for v in domains[per[0]]], True
    return [fmt(labels) if labels else name], False


def _inputs(kind: str, series: str, steps: int, interval_ms: int, window_ms: int) -> Inputs:
    seconds = interval_ms / 1000
    if kind == "gauge":
        return lambda v: [{"series": series, "values": f"{v:g}x{steps}"}]
    per_second = (lambda v: v / (window_ms / 1000)) if kind == "increase" else (lambda v: v)
    return lambda v: [{"series": series, "values": f"0+{per_second(v) * seconds:.6g}x{steps}"}]
