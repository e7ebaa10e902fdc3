"""promtool unit tests, compressed like the rules (alertdrill.alerting.timescale): the same tests check the
production rules at production durations and the drill copy at drill speed."""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import yaml

from alertdrill.alerting.durations import format_ms, parse_ms
from alertdrill.alerting.timescale import as_factor, scale_ms

_UNUM = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUM = rf"[-+]?{_UNUM}"
_EXPANDING_RE = re.compile(rf"^({_NUM})(?:([+-])({_UNUM}))?x(\d+)$")
_COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _fmt_value(v: Fraction) -> str:
    return repr(float(v)) if v.denominator != 1 else str(v.numerator)


def _scale_series_values(values: str, factor: Fraction) -> str:
    out: list[str] = []
    for tok in str(values).split():
        if tok in ("_", "stale") or tok.startswith("_x"):
            out.append(tok)
            continue
        m = _EXPANDING_RE.match(tok)
        if m:
            # Expanded into explicit values, each computed exactly then rounded once: promtool adds the
            # increment repeatedly, and 0.2 added ten times is not the 2 that the next segment starts at
            # (a flat counter would grow by 2e-16 and `increase(...) == 0` would never hold).
            a, op, b, n = m.groups()
            step = Fraction(b or 0) * (-1 if op == "-" else 1)
            out += [_fmt_value((Fraction(a) + step * j) / factor) for j in range(int(n) + 1)]
        elif re.fullmatch(_NUM, tok):
            out.append(_fmt_value(Fraction(tok) / factor))
        else:
            raise ValueError(f"cannot scale series value {tok!r} in {values!r}")
    return " ".join(out)


def scale_unit_tests(text: str, factor: Any, rule_files: list[str] | None = None) -> str:
    """A promtool unit-test file (tests/rules/alerts_test.yml) compressed like the rules: every
    evaluation_interval, interval and eval_time divided by factor, and every counter series
    (*_total, *_bucket, *_count, *_sum) divided by factor too, so that its per-second rate is the same
    in compressed time (ratios, quantiles and gauges are unchanged). rule_files replaces the file's
    rule_files (point it at the rendered copy)."""
    f = as_factor(factor)
    data = yaml.safe_load(text)
    if rule_files is not None:
        data["rule_files"] = [str(p) for p in rule_files]
    sd = lambda d: format_ms(scale_ms(parse_ms(d), f))  # noqa: E731
    evaluation_interval = data.get("evaluation_interval", "1m")  # promtool's defaults
    data["evaluation_interval"] = sd(evaluation_interval)
    for group in data.get("tests") or []:
        group["interval"] = sd(group.get("interval", evaluation_interval))
        for s in group.get("input_series") or []:
            name = str(s["series"]).split("{", 1)[0].strip()
            if name.endswith(_COUNTER_SUFFIXES):
                s["values"] = _scale_series_values(s["values"], f)
        for t in (group.get("alert_rule_test") or []) + (group.get("promql_expr_test") or []):
            t["eval_time"] = sd(t["eval_time"])
    return yaml.safe_dump(data, sort_keys=False, width=10_000, allow_unicode=True)
