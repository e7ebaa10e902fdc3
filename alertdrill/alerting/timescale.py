"""Time compression: the arithmetic and the limits of the drill copies (alertdrill.alerting.drillcopy
makes the copies).

Production rules keep production durations (5m rate windows, `for:` of minutes). A drill cannot wait
that long, so it runs against a copy in which every duration is divided by one factor:

  rules         range selectors `[5m]`, subquery ranges and steps `[30m:1m]`, `offset 5m`, `for:`,
                `keep_firing_for:`, a group's `interval:`
  alertmanager  group_wait, group_interval, repeat_interval (whole route tree), global resolve_timeout
  prometheus    scrape and evaluation interval set to the drill's (1s), not divided

Thresholds are not touched: they are per-second rates, ratios and gauges, which compression leaves
unchanged (a counter growing 0.2/s still grows 0.2/s in a drill, it is just watched through a 10s
window instead of a 5m one). A rule comparing a raw count (`increase(x[5m]) > 30`) or a number of
seconds (`time() - x > 600`, predict_linear's horizon) would change meaning; drillcopy.scale_rules warns about
the latter, which it cannot see through.

The one hard limit: rate() over a window needs a few samples. A factor that leaves any range window
with fewer than 4 scrapes (window / factor < 4 x the drill scrape interval) is rejected, saying the
largest valid factor.

DEFAULT_FACTOR = 30. The smallest window in the rules is 5m and the drill scrapes every second:
  * 5m / 30 = 10s windows hold 10 scrapes, 2.5 times the minimum of 4 (75 would be the limit): a late
    or missed scrape under fault injection (a killed container, a Toxiproxy toxic) does not blank rate();
  * the shortest `for:` (1m) becomes 2s = 2 evaluation intervals, so "pending before firing" is still
    observable; at 60 or more it would fall to one evaluation interval or below;
  * every production duration (30s, 1m, 2m, 5m, 15m, 4h) divides into whole seconds;
  * the slowest alert still fires quickly: HighApprovalRejectionRate (5m window + 15m for) in ~40s,
    SignalIngestionStopped (10 minutes of silence) after 20s; group_wait 30s -> 1s,
    group_interval 5m -> 10s, repeat_interval 4h -> 8m (no re-notification within a drill).
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable

import yaml

from alertdrill.alerting.durations import DURATION_PATTERN, format_ms, parse_ms

DEFAULT_FACTOR = 30
DRILL_SCRAPE_INTERVAL = "1s"
DRILL_EVALUATION_INTERVAL = "1s"
MIN_SCRAPES_PER_WINDOW = 4

__all__ = [
    "DEFAULT_FACTOR", "DRILL_SCRAPE_INTERVAL", "DRILL_EVALUATION_INTERVAL", "FactorError",
    "scale_duration", "scale_expr", "range_windows",
    "rule_files", "as_factor", "scale_ms", "fmt_factor", "recommended_factor", "validate_factor", "largest_valid_factor", "iter_rules",
    "load_rules", "rule_name", "SECONDS_SCALARS_RE",
]


class FactorError(ValueError):
    """The compression factor is not usable (not a number >= 1, or it starves a rate window)."""


# ------------------------------------------------------------------------------------------ durations
_DUR = DURATION_PATTERN


def as_factor(factor: Any) -> Fraction:
    try:
        f = Fraction(str(factor).strip())
    except (ValueError, ZeroDivisionError):
        raise FactorError(f"factor must be a number >= 1, got {factor!r}") from None
    if f < 1:
        raise FactorError(f"factor must be a number >= 1 (1 = production durations), got {factor!r}")
    return f


def scale_ms(ms: int, factor: Fraction) -> int:
    if ms == 0:
        return 0
    return max(1, math.floor(Fraction(ms) / factor + Fraction(1, 2)))  # nearest ms, never 0


def scale_duration(text: str, factor: Any) -> str:
    """Divide one duration by factor: scale_duration("5m", 30) == "10s", ("1m", 75) == "800ms"."""
    return format_ms(scale_ms(parse_ms(text), as_factor(factor)))


# ------------------------------------------------------------------------------------------ PromQL
# String literals and comments are copied verbatim: a label value "/x[5m]" is not a range selector.
_SKIP_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`|#[^\n]*')
_RANGE_RE = re.compile(rf"\[(\s*)({_DUR})(\s*)(?:(:)(\s*)({_DUR})?(\s*))?\]")
_OFFSET_RE = re.compile(rf"\b(offset\s+-?)({_DUR})\b")
SECONDS_SCALARS_RE = re.compile(r"\b(time|timestamp|predict_linear|holt_winters|day_of_\w+|hour|minute)\s*\(")


def _code_spans(expr: str) -> Iterable[tuple[bool, str]]:
    """(is_code, text) pieces of a PromQL expression."""
    pos = 0
    for m in _SKIP_RE.finditer(expr):
        if m.start() > pos:
            yield True, expr[pos:m.start()]
        yield False, m.group(0)
        pos = m.end()
    if pos < len(expr):
        yield True, expr[pos:]


def scale_expr(expr: str, factor: Any) -> str:
    """Divide every range, subquery range/step and offset of a PromQL expression by factor."""
    f = as_factor(factor)

    def rng(m: re.Match) -> str:
        out = "[" + m.group(1) + format_ms(scale_ms(parse_ms(m.group(2)), f)) + m.group(3)
        if m.group(4):
            out += ":" + m.group(5)
            if m.group(6):
                out += format_ms(scale_ms(parse_ms(m.group(6)), f))
            out += m.group(7)
        return out + "]"

    def off(m: re.Match) -> str:
        return m.group(1) + format_ms(scale_ms(parse_ms(m.group(2)), f))

    pieces = []
    for is_code, text in _code_spans(expr):
        if is_code:
            text = _OFFSET_RE.sub(off, _RANGE_RE.sub(rng, text))
        pieces.append(text)
    return "".join(pieces)


def range_windows(expr: str) -> list[int]:
    """The range-selector windows (ms) of an expression, e.g. rate(x[5m]) -> [300000]. Subquery ranges
    are not windows over raw samples and are left out."""
    out = []
    for is_code, text in _code_spans(expr):
        if is_code:
            out += [parse_ms(m.group(2)) for m in _RANGE_RE.finditer(text) if not m.group(4)]
    return out


# ------------------------------------------------------------------------------------------ rules
def rule_files(path) -> list[Path]:
    """The rule files of `path`: a file, the *.yml / *.yaml files of a directory (as Prometheus'
    rule_files glob loads them), or a list of either (several rule files, e.g. the configured `rules`)."""
    if isinstance(path, (list, tuple)):
        found = [f for p in path for f in rule_files(Path(p))]
        if not found:
            raise FileNotFoundError("no rule files given")
        return list(dict.fromkeys(found))
    path = Path(path)
    if not path.is_dir():
        return [path]
    found = sorted([*path.glob("*.yml"), *path.glob("*.yaml")])
    if not found:
        raise FileNotFoundError(f"no rule files (*.yml) in {path}")
    return found


def load_rules(rules_text: str) -> dict:
    data = yaml.safe_load(rules_text) or {}
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError("not a Prometheus rule file: no top-level `groups:` list")
    return data


def iter_rules(data: dict):
    """(group, rule) for every rule of a parsed rule file: the one walk over its groups."""
    for group in data.get("groups") or []:
        for rule in group.get("rules") or []:
            yield group, rule


def rule_name(rule: dict) -> str:
    return rule.get("alert") or rule.get("record") or "<unnamed>"


def largest_valid_factor(rules_text: str, scrape_interval: str = DRILL_SCRAPE_INTERVAL) -> Fraction | None:
    """The largest factor that keeps >= 4 drill scrapes in every range window (None: no windows)."""
    windows = [w for _g, r in iter_rules(load_rules(rules_text)) for w in range_windows(str(r.get("expr", "")))]
    if not windows:
        return None
    return Fraction(min(windows), MIN_SCRAPES_PER_WINDOW * parse_ms(scrape_interval))


def recommended_factor(rules_texts: Iterable[str]) -> tuple[int, str]:
    """The factor `alertdrill init` writes, and why: the largest every rule file's windows allow, floored,
    and at most DEFAULT_FACTOR, whose reasons (see above: a shortest `for:` of 1m keeps two evaluations
    pending, a late scrape under a fault does not blank rate()) hold for any rules; at least 1."""
    limits = [f for text in rules_texts if (f := largest_valid_factor(text)) is not None]
    if not limits:
        return DEFAULT_FACTOR, "the default: no rule has a range window to limit it"
    best = min(limits)
    if best >= DEFAULT_FACTOR:
        return DEFAULT_FACTOR, (f"the rule windows allow up to {math.floor(best)}; {DEFAULT_FACTOR} keeps a 1m "
                                "`for:` two evaluations long and a missed scrape harmless")
    return max(1, math.floor(best)), (f"the largest the rule windows allow ({MIN_SCRAPES_PER_WINDOW} drill scrapes "
                                      "in the smallest window)")


def fmt_factor(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{float(f):g}"


def validate_factor(factor: Any, rules_text: str, scrape_interval: str = DRILL_SCRAPE_INTERVAL,
                    evaluation_interval: str = DRILL_EVALUATION_INTERVAL) -> list[str]:
    """Raise FactorError if factor is not a number >= 1 or leaves a range window with fewer than 4
    scrapes at the drill scrape interval; the message says the largest valid factor. Returns warnings
    (non-fatal): `for:` durations that fall below one evaluation interval."""
    f = as_factor(factor)
    scrape_ms = parse_ms(scrape_interval)
    min_window_ms = MIN_SCRAPES_PER_WINDOW * scrape_ms
    data = load_rules(rules_text)
    starved = []
    for _g, rule in iter_rules(data):
        for w in range_windows(str(rule.get("expr", ""))):
            if Fraction(w) / f < min_window_ms:
                starved.append((w, rule_name(rule)))
    if starved:
        w = min(x for x, _n in starved)
        name = next(n for x, n in starved if x == w)
        best = largest_valid_factor(rules_text, scrape_interval)
        best_int = math.floor(best)
        exact = "" if best == best_int else f" ({fmt_factor(best)} at most)"
        raise FactorError(
            f"factor {fmt_factor(f)} is too large: it shrinks the [{format_ms(w)}] window of "
            f"{name} to {format_ms(scale_ms(w, f))}, fewer than {MIN_SCRAPES_PER_WINDOW} scrapes at "
            f"the drill scrape interval of {scrape_interval}. The largest valid factor is {best_int}{exact}: "
            f"it compresses the smallest window, {format_ms(w)}, to "
            f"{format_ms(scale_ms(w, Fraction(best_int)))} "
            f"(the smallest valid window is {format_ms(min_window_ms)}). Use --factor {best_int} or less.")
    notes = []
    eval_ms = parse_ms(evaluation_interval)
    for _g, rule in iter_rules(data):
        if rule.get("for") and scale_ms(parse_ms(rule["for"]), f) < eval_ms:
            notes.append(f"{rule_name(rule)}: for {rule['for']} becomes "
                         f"{format_ms(scale_ms(parse_ms(rule['for']), f))}, less than one "
                         f"evaluation interval ({evaluation_interval}): it fires on the 2nd evaluation")
    return notes
