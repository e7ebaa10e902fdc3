"""The notification data Alertmanager hands its templates for a group of one alert, built offline from a
rule (alertdrill.alerting.notifications renders the templates with it): receiver, status, the alert (labels,
annotations, startsAt, endsAt, generatorURL, fingerprint), groupLabels from the delivering route's group_by,
commonLabels, commonAnnotations, externalURL.

The rule's annotation templates are filled by plain substitution, not by Prometheus' template engine:
`{{ $labels.x }}` / `{{ .Labels.x }}` take the sample label value, and `{{ $value }}` takes the sample
value, also piped through (or called with) humanize, humanizeDuration, humanizePercentage or
printf "<format>". Anything else in an annotation is left as written.
"""
from __future__ import annotations

import math
import re
import urllib.parse

from alertdrill.alerting import routing

STARTS_AT = "2025-01-06T09:00:00Z"
ENDS_AT = "2025-01-06T09:30:00Z"  # a resolved alert's end
ZERO_TIME = "0001-01-01T00:00:00Z"  # a firing alert's endsAt in notifications (Alertmanager hides it)
EXTERNAL_URL = "http://alertmanager.example:9093"
PROMETHEUS_URL = "http://prometheus.example:9090"


_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")
_LABEL_REF = re.compile(r"^(?:\$labels|\.Labels)\.(\w+)$")
_VALUE_PIPE = re.compile(r'^\$value\s*(?:\|\s*(\w+)\s*((?:"[^"]*")?))?$')
_VALUE_CALL = re.compile(r'^(\w+)\s*((?:"[^"]*")?)\s*\$value$')


def _humanize(v: float) -> str:
    if v == 0 or math.isnan(v) or math.isinf(v):
        return f"{v:.4g}"
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
    else:
        for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(v) >= 1:
                break
            prefix, v = p, v * 1000
    return f"{v:.4g}{prefix}"


def _humanize_duration(v: float) -> str:
    if v == 0 or math.isnan(v) or math.isinf(v):
        return f"{v:.4g}s"
    sign, v = ("-" if v < 0 else ""), abs(v)
    if v >= 1:
        s = int(v)
        d, h, m, s = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
        if d:
            return f"{sign}{d}d {h}h {m}m {s}s"
        if h:
            return f"{sign}{h}h {m}m {s}s"
        if m:
            return f"{sign}{m}m {s}s"
        return f"{sign}{v:.4g}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if v >= 1:
            break
        prefix, v = p, v * 1000
    return f"{sign}{v:.4g}{prefix}s"


def _format_value(func: str | None, arg: str, value: float) -> str | None:
    if func is None:
        return f"{value:g}"
    if func == "printf" and arg:
        return arg.strip('"') % value
    return {"humanize": _humanize, "humanizeDuration": _humanize_duration,
            "humanizePercentage": lambda v: f"{v * 100:.4g}%"}.get(func, lambda v: None)(value)


def fill_annotations(annotations: dict, labels: dict[str, str], value: float) -> dict[str, str]:
    """The rule's annotations with `{{ $labels.x }}` and `{{ $value ... }}` substituted (see the module's
    docstring); an action it does not know stays as written."""
    def one(m: re.Match) -> str:
        inner = m.group(1)
        if (ref := _LABEL_REF.match(inner)):
            return labels.get(ref.group(1), "")
        call = _VALUE_PIPE.match(inner) or _VALUE_CALL.match(inner)
        if call:
            shown = _format_value(call.group(1), call.group(2), value)
            return m.group(0) if shown is None else shown
        return m.group(0)

    return {k: _ACTION.sub(one, str(v)) for k, v in (annotations or {}).items()}


def alert_labels(rule: dict, samples: dict[str, str] | None = None, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """The labels an alert of `rule` carries: alertname, the rule's labels, and every label its
    annotations refer to (plus `extra`, e.g. those of its `by (...)`), valued from samples (or
    "sample-<label>" for a label without a sample)."""
    samples = samples or {}
    labels = {"alertname": rule["alert"], **{k: str(v) for k, v in (rule.get("labels") or {}).items()}}
    referred = [m.group(1) for text in (rule.get("annotations") or {}).values()
                for m in re.finditer(r"(?:\$labels|\.Labels)\.(\w+)", str(text))]
    for name in [*referred, *extra]:
        labels.setdefault(name, str(samples.get(name, f"sample-{name}")))
    return labels


def fingerprint(labels: dict[str, str]) -> str:
    """The alert's fingerprint as Alertmanager computes it (FNV-1a 64 over the sorted label pairs)."""
    h = 0xcbf29ce484222325
    for name in sorted(labels):
        for byte in name.encode() + b"\xff" + labels[name].encode() + b"\xff":
            h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def group_labels(am: dict, receiver: str, labels: dict[str, str]) -> dict[str, str]:
    """The labels the route delivering `labels` to `receiver` groups by (group_by inherited down the tree;
    `...` groups by all of them)."""
    found: list[list[str]] = []

    def walk(route: dict, group_by: list[str], inherited_receiver: str | None) -> None:
        group_by = route.get("group_by", group_by)
        name = route.get("receiver", inherited_receiver)
        matched = False
        for child in route.get("routes") or []:
            if routing.matches(child, labels):
                matched = True
                walk(child, group_by, name)
                if not child.get("continue"):
                    break
        if not matched and name == receiver:
            found.append(list(group_by or []))

    walk(am["route"], [], None)
    by = found[0] if found else []
    return dict(labels) if "..." in by else {k: labels[k] for k in by if k in labels}


def notification_data(am: dict, receiver: str, rule: dict, *, status: str = "firing",
                      samples: dict[str, str] | None = None, extra_labels: tuple[str, ...] = (),
                      value: float = 1.0, external_url: str = EXTERNAL_URL,
                      prometheus_url: str = PROMETHEUS_URL) -> dict:
    """What Alertmanager hands the templates of `receiver` for a group of one alert of `rule`, `status`
    "firing" or "resolved" (fixed times, so the rendering is the same every run)."""
    if status not in ("firing", "resolved"):
        raise ValueError(f"status {status!r}: valid are firing, resolved")
    labels = alert_labels(rule, samples, extra_labels)
    annotations = fill_annotations(rule.get("annotations") or {}, labels, value)
    expr = " ".join(str(rule.get("expr", "")).split())
    alert = {"status": status, "labels": labels, "annotations": annotations, "startsAt": STARTS_AT,
             "endsAt": ENDS_AT if status == "resolved" else ZERO_TIME,
             "generatorURL": f"{prometheus_url}/graph?g0.expr={urllib.parse.quote_plus(expr, safe='')}&g0.tab=1",
             "fingerprint": fingerprint(labels)}
    return {"receiver": re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", receiver),  # Go's regexp.QuoteMeta
            "status": status, "alerts": [alert], "groupLabels": group_labels(am, receiver, labels),
            "commonLabels": dict(labels), "commonAnnotations": dict(annotations), "externalURL": external_url}
