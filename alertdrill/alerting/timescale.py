"""Time compression: drill copies of the alert rules and the Alertmanager configuration.

Production rules keep production durations (5m rate windows, `for:` of minutes). A drill cannot wait
that long, so it runs against a copy in which every duration is divided by one factor:

  rules         range selectors `[5m]`, subquery ranges and steps `[30m:1m]`, `offset 5m`, `for:`,
                `keep_firing_for:`, a group's `interval:`
  alertmanager  group_wait, group_interval, repeat_interval (whole route tree), global resolve_timeout
  prometheus    scrape and evaluation interval set to the drill's (1s), not divided

Thresholds are not touched: they are per-second rates, ratios and gauges, which compression leaves
unchanged (a counter growing 0.2/s still grows 0.2/s in a drill, it is just watched through a 10s
window instead of a 5m one). A rule comparing a raw count (`increase(x[5m]) > 30`) or a number of
seconds (`time() - x > 600`, predict_linear's horizon) would change meaning; render_rules warns about
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

import argparse
import math
import re
import sys
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable

import yaml

from alertdrill.project import ALERTMANAGER_FILE as DEFAULT_ALERTMANAGER_PATH
from alertdrill.project import PROMETHEUS_FILE as DEFAULT_PROMETHEUS_PATH
from alertdrill.project import RULES_FILE as DEFAULT_RULES_PATH

DEFAULT_FACTOR = 30
DRILL_SCRAPE_INTERVAL = "1s"
DRILL_EVALUATION_INTERVAL = "1s"
MIN_SCRAPES_PER_WINDOW = 4

__all__ = [
    "DEFAULT_FACTOR", "DRILL_SCRAPE_INTERVAL", "DRILL_EVALUATION_INTERVAL", "FactorError", "DrillConfig",
    "parse_duration", "format_duration", "scale_duration", "scale_expr", "range_windows",
    "render_rules", "render_alertmanager", "render_prometheus", "render_drill_config",
    "validate_factor", "largest_valid_factor", "scale_unit_tests", "main",
]


class FactorError(ValueError):
    """The compression factor is not usable (not a number >= 1, or it starves a rate window)."""


# ------------------------------------------------------------------------------------------ durations
_UNITS_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000,
             "m": 60_000, "s": 1000, "ms": 1}
_UNIT_ORDER = ("y", "w", "d", "h", "m", "s", "ms")
_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
# A duration inside an expression: one or more <digits><unit>, `ms` tried before `m`.
_DUR = r"(?:\d+(?:ms|y|w|d|h|m|s))+"


def parse_duration(text: str) -> int:
    """A Prometheus duration ("5m", "1h30m", "2500ms", "1d") in milliseconds."""
    s = str(text).strip()
    m = _DURATION_RE.match(s)
    if not s or not m or not any(m.groups()):
        raise ValueError(f"not a Prometheus duration: {text!r} (expected e.g. 30s, 5m, 1h30m, 2500ms)")
    return sum(int(v) * _UNITS_MS[u] for v, u in zip(m.groups(), _UNIT_ORDER) if v)


def format_duration(ms: int) -> str:
    """Milliseconds as a Prometheus duration, largest units first: 90000 -> "1m30s", 2500 -> "2s500ms"."""
    ms = int(ms)
    if ms < 0:
        raise ValueError(f"negative duration: {ms}ms")
    if ms == 0:
        return "0s"
    out = []
    for unit in _UNIT_ORDER:
        size = _UNITS_MS[unit]
        if ms >= size:
            n, ms = divmod(ms, size)
            out.append(f"{n}{unit}")
    return "".join(out)


def _as_factor(factor: Any) -> Fraction:
    try:
        f = Fraction(str(factor).strip())
    except (ValueError, ZeroDivisionError):
        raise FactorError(f"factor must be a number >= 1, got {factor!r}") from None
    if f < 1:
        raise FactorError(f"factor must be a number >= 1 (1 = production durations), got {factor!r}")
    return f


def _scale_ms(ms: int, factor: Fraction) -> int:
    if ms == 0:
        return 0
    return max(1, math.floor(Fraction(ms) / factor + Fraction(1, 2)))  # nearest ms, never 0


def scale_duration(text: str, factor: Any) -> str:
    """Divide one duration by factor: scale_duration("5m", 30) == "10s", ("1m", 75) == "800ms"."""
    return format_duration(_scale_ms(parse_duration(text), _as_factor(factor)))


# ------------------------------------------------------------------------------------------ PromQL
# String literals and comments are copied verbatim: a label value "/x[5m]" is not a range selector.
_SKIP_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`|#[^\n]*')
_RANGE_RE = re.compile(rf"\[(\s*)({_DUR})(\s*)(?:(:)(\s*)({_DUR})?(\s*))?\]")
_OFFSET_RE = re.compile(rf"\b(offset\s+-?)({_DUR})\b")
_SECONDS_SCALARS_RE = re.compile(r"\b(time|timestamp|predict_linear|holt_winters|day_of_\w+|hour|minute)\s*\(")


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
    f = _as_factor(factor)

    def rng(m: re.Match) -> str:
        out = "[" + m.group(1) + format_duration(_scale_ms(parse_duration(m.group(2)), f)) + m.group(3)
        if m.group(4):
            out += ":" + m.group(5)
            if m.group(6):
                out += format_duration(_scale_ms(parse_duration(m.group(6)), f))
            out += m.group(7)
        return out + "]"

    def off(m: re.Match) -> str:
        return m.group(1) + format_duration(_scale_ms(parse_duration(m.group(2)), f))

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
            out += [parse_duration(m.group(2)) for m in _RANGE_RE.finditer(text) if not m.group(4)]
    return out


# ------------------------------------------------------------------------------------------ rules
def _load_rules(rules_text: str) -> dict:
    data = yaml.safe_load(rules_text) or {}
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError("not a Prometheus rule file: no top-level `groups:` list")
    return data


def _iter_rules(data: dict):
    for group in data["groups"]:
        for rule in group.get("rules") or []:
            yield group, rule


def _rule_name(rule: dict) -> str:
    return rule.get("alert") or rule.get("record") or "<unnamed>"


def largest_valid_factor(rules_text: str, scrape_interval: str = DRILL_SCRAPE_INTERVAL) -> Fraction | None:
    """The largest factor that keeps >= 4 drill scrapes in every range window (None: no windows)."""
    windows = [w for _g, r in _iter_rules(_load_rules(rules_text)) for w in range_windows(str(r.get("expr", "")))]
    if not windows:
        return None
    return Fraction(min(windows), MIN_SCRAPES_PER_WINDOW * parse_duration(scrape_interval))


def _fmt_factor(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{float(f):g}"


def validate_factor(factor: Any, rules_text: str, scrape_interval: str = DRILL_SCRAPE_INTERVAL,
                    evaluation_interval: str = DRILL_EVALUATION_INTERVAL) -> list[str]:
    """Raise FactorError if factor is not a number >= 1 or leaves a range window with fewer than 4
    scrapes at the drill scrape interval; the message says the largest valid factor. Returns warnings
    (non-fatal): `for:` durations that fall below one evaluation interval."""
    f = _as_factor(factor)
    scrape_ms = parse_duration(scrape_interval)
    min_window_ms = MIN_SCRAPES_PER_WINDOW * scrape_ms
    data = _load_rules(rules_text)
    starved = []
    for _g, rule in _iter_rules(data):
        for w in range_windows(str(rule.get("expr", ""))):
            if Fraction(w) / f < min_window_ms:
                starved.append((w, _rule_name(rule)))
    if starved:
        w = min(x for x, _n in starved)
        name = next(n for x, n in starved if x == w)
        best = largest_valid_factor(rules_text, scrape_interval)
        best_int = math.floor(best)
        exact = "" if best == best_int else f" ({_fmt_factor(best)} at most)"
        raise FactorError(
            f"factor {_fmt_factor(f)} is too large: it shrinks the [{format_duration(w)}] window of "
            f"{name} to {format_duration(_scale_ms(w, f))}, fewer than {MIN_SCRAPES_PER_WINDOW} scrapes at "
            f"the drill scrape interval of {scrape_interval}. The largest valid factor is {best_int}{exact}: "
            f"it compresses the smallest window, {format_duration(w)}, to "
            f"{format_duration(_scale_ms(w, Fraction(best_int)))} "
            f"(the smallest valid window is {format_duration(min_window_ms)}). Use --factor {best_int} or less.")
    notes = []
    eval_ms = parse_duration(evaluation_interval)
    for _g, rule in _iter_rules(data):
        if rule.get("for") and _scale_ms(parse_duration(rule["for"]), f) < eval_ms:
            notes.append(f"{_rule_name(rule)}: for {rule['for']} becomes "
                         f"{format_duration(_scale_ms(parse_duration(rule['for']), f))}, less than one "
                         f"evaluation interval ({evaluation_interval}): it fires on the 2nd evaluation")
    return notes


def _dump(data: Any, header: str) -> str:
    return header + yaml.safe_dump(data, sort_keys=False, width=10_000, allow_unicode=True,
                                   default_flow_style=False)


def _header(kind: str, factor: Fraction, source: str | None = None) -> str:
    src = f" from {source}" if source else ""
    return (f"# GENERATED by `alertdrill render --factor {_fmt_factor(factor)}`{src}: drill copy of the {kind},\n"
            f"# every duration divided by {_fmt_factor(factor)}. Do not edit; edit the production file.\n")


def render_rules(text: str, factor: Any, source: str | None = None) -> str:
    """A rule file with every duration divided by factor (does not validate the factor: see
    validate_factor)."""
    f = _as_factor(factor)
    data = _load_rules(text)
    for group in data["groups"]:
        if group.get("interval"):
            group["interval"] = format_duration(_scale_ms(parse_duration(group["interval"]), f))
        for rule in group.get("rules") or []:
            expr = str(rule.get("expr", ""))
            if _SECONDS_SCALARS_RE.search(expr) and f != 1:
                warnings.warn(f"{_rule_name(rule)}: {expr!r} uses a function of wall-clock seconds; "
                              f"its scalar arguments are not compressed", stacklevel=2)
            rule["expr"] = scale_expr(expr, f)
            for key in ("for", "keep_firing_for"):
                if rule.get(key):
                    rule[key] = format_duration(_scale_ms(parse_duration(rule[key]), f))
    return _dump(data, _header("alert rules", f, source))


_AM_ROUTE_TIMERS = ("group_wait", "group_interval", "repeat_interval")


def render_alertmanager(text: str, factor: Any, source: str | None = None) -> str:
    """An Alertmanager configuration with group_wait, group_interval, repeat_interval (every route)
    and global resolve_timeout divided by factor."""
    f = _as_factor(factor)
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict) or "route" not in data:
        raise ValueError("not an Alertmanager configuration: no top-level `route:`")

    def walk(route: dict) -> None:
        for key in _AM_ROUTE_TIMERS:
            if route.get(key):
                route[key] = format_duration(_scale_ms(parse_duration(route[key]), f))
        for child in route.get("routes") or []:
            walk(child)

    walk(data["route"])
    glob = data.get("global") or {}
    if glob.get("resolve_timeout"):
        glob["resolve_timeout"] = format_duration(_scale_ms(parse_duration(glob["resolve_timeout"]), f))
    return _dump(data, _header("Alertmanager configuration", f, source))


def render_prometheus(text: str, scrape_interval: str = DRILL_SCRAPE_INTERVAL,
                      evaluation_interval: str = DRILL_EVALUATION_INTERVAL, source: str | None = None) -> str:
    """A Prometheus configuration scraping and evaluating at the drill intervals (global and per job);
    scrape timeouts are capped at the scrape interval. rule_files and targets are kept as they are."""
    data = yaml.safe_load(text) or {}
    si = parse_duration(scrape_interval)
    glob = data.setdefault("global", {}) or {}
    data["global"] = glob
    glob["scrape_interval"] = scrape_interval
    glob["evaluation_interval"] = evaluation_interval
    if glob.get("scrape_timeout") and parse_duration(glob["scrape_timeout"]) > si:
        glob["scrape_timeout"] = scrape_interval
    for job in data.get("scrape_configs") or []:
        if job.get("scrape_interval"):
            job["scrape_interval"] = scrape_interval
        if job.get("scrape_timeout") and parse_duration(job["scrape_timeout"]) > si:
            job["scrape_timeout"] = scrape_interval
    header = (f"# GENERATED by alertdrill render{' from ' + source if source else ''}: drill copy, scrape "
              f"every {scrape_interval}, evaluate every {evaluation_interval}. Do not edit.\n")
    return _dump(data, header)


# ------------------------------------------------------------------------------------------ drill config
@dataclass
class DrillConfig:
    """What render_drill_config wrote, and the compressed timings a drill needs for its deadlines."""
    factor: Fraction
    out_dir: Path
    rules_files: list[Path]
    alertmanager_file: Path
    prometheus_file: Path | None
    scrape_interval_s: float
    evaluation_interval_s: float
    alert_for_s: dict[str, float] = field(default_factory=dict)  # alert -> compressed `for:` (s)
    alert_window_s: dict[str, float] = field(default_factory=dict)  # alert -> longest compressed window (s)
    am_timers_s: dict[str, float] = field(default_factory=dict)  # root group_wait/group_interval/repeat_interval
    notes: list[str] = field(default_factory=list)

    def detection_floor_s(self, alert: str) -> float:
        """Earliest notification after a fault: scrape + evaluation + `for:` + group_wait (the window
        may add up to its length for rate-based alerts: see alert_window_s)."""
        return (self.scrape_interval_s + self.evaluation_interval_s + self.alert_for_s.get(alert, 0.0)
                + self.am_timers_s.get("group_wait", 0.0))

    @property
    def env(self) -> dict[str, str]:
        """Environment for `docker compose -f docker-compose.test.yml up` so the stack runs the drill
        copies: the rules and Alertmanager directories it mounts, and Prometheus' intervals."""
        si = format_duration(int(self.scrape_interval_s * 1000))
        return {
            "ALERTDRILL_RULES_DIR": str(self.out_dir.resolve() / "rules"),
            "ALERTDRILL_ALERTMANAGER_DIR": str(self.out_dir.resolve() / "alertmanager"),
            "SCRAPE_INTERVAL": si,
            "SCRAPE_TIMEOUT": si,
            "EVAL_INTERVAL": format_duration(int(self.evaluation_interval_s * 1000)),
            # Prometheus re-sends firing alerts every --rules.alert.resend-delay (1m in production).
            "RESEND_DELAY": format_duration(max(_scale_ms(60_000, self.factor), int(self.evaluation_interval_s * 1000))),
        }

    @property
    def paths(self) -> list[Path]:
        return [*self.rules_files, self.alertmanager_file, self.out_dir / "alertmanager" / "alertmanager.yml",
                *([self.prometheus_file] if self.prometheus_file else [])]


def render_drill_config(factor: Any = DEFAULT_FACTOR, out_dir: str | Path = "drill-config", *,
                        rules_path: str | Path = DEFAULT_RULES_PATH,
                        am_path: str | Path = DEFAULT_ALERTMANAGER_PATH,
                        prom_path: str | Path | None = None,
                        scrape_interval: str = DRILL_SCRAPE_INTERVAL,
                        evaluation_interval: str = DRILL_EVALUATION_INTERVAL) -> DrillConfig:
    """Validate factor, then write out_dir/rules/<each rule file> (rules_path: a file or a directory of
    *.yml), out_dir/alertmanager.yml (and the same in out_dir/alertmanager/, the directory the compose
    file mounts) and, when prom_path is given (or stack/prometheus/prometheus.yml
    exists), out_dir/prometheus.yml at the drill scrape/evaluation interval."""
    f = _as_factor(factor)
    out = Path(out_dir)
    rules_path, am_path = Path(rules_path), Path(am_path)
    sources = sorted([*rules_path.glob("*.yml"), *rules_path.glob("*.yaml")]) if rules_path.is_dir() else [rules_path]
    if not sources:
        raise FileNotFoundError(f"no rule files (*.yml) in {rules_path}")
    texts = {p: p.read_text() for p in sources}
    notes: list[str] = []
    for p, text in texts.items():  # all files first: nothing is written for an invalid factor
        notes += validate_factor(f, text, scrape_interval, evaluation_interval)
    (out / "rules").mkdir(parents=True, exist_ok=True)
    cfg = DrillConfig(factor=f, out_dir=out, rules_files=[], alertmanager_file=out / "alertmanager.yml",
                      prometheus_file=None, scrape_interval_s=parse_duration(scrape_interval) / 1000,
                      evaluation_interval_s=parse_duration(evaluation_interval) / 1000, notes=notes)
    for p, text in texts.items():
        dest = out / "rules" / p.name
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dest.write_text(render_rules(text, f, source=str(p)))
        cfg.notes += [str(w.message) for w in caught]
        cfg.rules_files.append(dest)
        for _g, rule in _iter_rules(_load_rules(text)):
            if rule.get("alert"):
                cfg.alert_for_s[rule["alert"]] = _scale_ms(parse_duration(rule.get("for") or "0s"), f) / 1000
                ws = range_windows(str(rule.get("expr", "")))
                cfg.alert_window_s[rule["alert"]] = max((_scale_ms(w, f) for w in ws), default=0) / 1000
    am_text = render_alertmanager(am_path.read_text(), f, source=str(am_path))
    cfg.alertmanager_file.write_text(am_text)
    # The compose file mounts a directory holding alertmanager.yml (ALERTDRILL_ALERTMANAGER_DIR):
    # the same file again in out_dir/alertmanager/, so either layout can be mounted.
    (out / "alertmanager").mkdir(exist_ok=True)
    (out / "alertmanager" / "alertmanager.yml").write_text(am_text)
    root = (yaml.safe_load(am_text) or {}).get("route") or {}
    cfg.am_timers_s = {k: parse_duration(root[k]) / 1000 for k in _AM_ROUTE_TIMERS if root.get(k)}
    if prom_path is None and DEFAULT_PROMETHEUS_PATH.exists():
        prom_path = DEFAULT_PROMETHEUS_PATH
    if prom_path is not None:
        cfg.prometheus_file = out / "prometheus.yml"
        cfg.prometheus_file.write_text(render_prometheus(Path(prom_path).read_text(), scrape_interval,
                                                         evaluation_interval, source=str(prom_path)))
    return cfg


# ------------------------------------------------------------------------------------------ unit tests
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
    f = _as_factor(factor)
    data = yaml.safe_load(text)
    if rule_files is not None:
        data["rule_files"] = [str(p) for p in rule_files]
    sd = lambda d: format_duration(_scale_ms(parse_duration(d), f))  # noqa: E731
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


# ------------------------------------------------------------------------------------------ CLI
def main(argv: list[str] | None = None) -> int:
    """`alertdrill render --factor N --out DIR`: write the drill copies, print what was written."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "render":
        argv = argv[1:]
    ap = argparse.ArgumentParser(prog="alertdrill render",
                                 description="Render time-compressed drill copies of the alert rules and "
                                             "the Alertmanager configuration.")
    ap.add_argument("--factor", default=str(DEFAULT_FACTOR),
                    help=f"divide every duration by this (default {DEFAULT_FACTOR}; 1 = production)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--rules", default=str(DEFAULT_RULES_PATH), help="rule file or directory of rule files")
    ap.add_argument("--alertmanager", default=str(DEFAULT_ALERTMANAGER_PATH), help="alertmanager.yml")
    ap.add_argument("--prometheus", default=None,
                    help="prometheus.yml to copy at the drill intervals (default: stack/prometheus/prometheus.yml if present)")
    ap.add_argument("--scrape-interval", default=DRILL_SCRAPE_INTERVAL)
    ap.add_argument("--evaluation-interval", default=DRILL_EVALUATION_INTERVAL)
    args = ap.parse_args(argv)
    try:
        cfg = render_drill_config(args.factor, args.out, rules_path=args.rules, am_path=args.alertmanager,
                                  prom_path=args.prometheus, scrape_interval=args.scrape_interval,
                                  evaluation_interval=args.evaluation_interval)
    except FactorError as e:
        print(f"alertdrill render: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"alertdrill render: {e}", file=sys.stderr)
        return 1
    print(f"factor {_fmt_factor(cfg.factor)} (scrape {args.scrape_interval}, evaluation {args.evaluation_interval}):")
    for p in cfg.paths:
        print(f"  wrote {p}")
    for name in sorted(cfg.alert_for_s):
        print(f"  {name:34s} for {cfg.alert_for_s[name]:g}s, window {cfg.alert_window_s[name]:g}s, "
              f"detection floor {cfg.detection_floor_s(name):g}s")
    for note in cfg.notes:
        print(f"  note: {note}")
    print("  compose environment: " + " ".join(f"{k}={v}" for k, v in cfg.env.items()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
