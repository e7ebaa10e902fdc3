"""The PromQL a runbook's curl lines run, and the metric names they use."""
from __future__ import annotations

import re
from urllib.parse import unquote

# curl -s "http://localhost:9090/api/v<N>/query?query=<expr>" (Prometheus' query API; also $PROM_URL/...,
# query_range with &start=...)
_CURL = re.compile(r"""curl[^\n]*?/api/v\d+/query(?:_range)?\?query=(?P<expr>.+?)["']\s*$""", re.M)
_PARAMS = re.compile(r"&(?:start|end|step|time|timeout)=.*$")
_FUNCS = {"sum", "rate", "irate", "increase", "topk", "bottomk", "histogram_quantile", "by", "without", "le",
          "avg", "max", "min", "count", "on", "ignoring", "and", "or", "unless", "bool", "offset", "abs",
          "clamp_min", "clamp_max", "time", "vector", "absent", "delta", "deriv"}


def runbook_queries(text: str) -> list[str]:
    """Every PromQL expression the runbook's curl lines send to Prometheus, unescaped as the shell would."""
    out = []
    for m in _CURL.finditer(text):
        expr = unquote(_PARAMS.sub("", m.group("expr"))).replace('\\"', '"')
        if expr not in out:
            out.append(expr)
    return out


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (histogram series reduced to their family name)."""
    no_strings = re.sub(r'"[^"]*"', '""', expr)
    no_matchers = re.sub(r"\{[^}]*\}", "", no_strings)
    no_ranges = re.sub(r"\[[^\]]*\]", "", no_matchers)
    no_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", no_ranges)
    names = set()
    for tok in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", no_groupings):
        if tok in _FUNCS or tok.isdigit():
            continue
        names.add(re.sub(r"_(bucket|sum|count)$", "", tok) if tok.endswith("_bucket") else tok)
    return names
