"""promtool unit-test groups generated from the runbook's promises: for every alert with a non-zero
threshold, the metric the rule watches held just above (x1.04) and just below (x0.96) the promised
threshold. At an evaluation time well past the window and `for`, the alert must be firing above and
absent below. So a threshold that drifts by 5 % or more, in either direction, fails a test.

The groups are the shipped ones (alertdrill.adopt.check.boundaries, which `alertdrill check` runs on the
shapes it can drive by itself); what is this platform's is how to drive each alert's metric (`INPUTS`): a
gauge, a per-second counter rate, a ratio of two counters, or a p95 from histogram buckets, on the
platform's own series. An alert added to the runbook without an entry here fails
`test_every_thresholded_alert_has_boundary_inputs`.
"""
from __future__ import annotations

from typing import Callable

from alertdrill.adopt.check.boundaries import Drive, Inputs
from alertdrill.adopt.check.boundaries import boundary_groups as shipped_groups

MINUTES = 40  # series length; the window (5m) and the longest `for` (15m) are long over by then


def _counter(series: str) -> Inputs:
    """A counter growing `value` per second (interval 1m)."""
    return lambda v: [{"series": series, "values": f"0+{v * 60:g}x{MINUTES}"}]


def _gauge(series: str) -> Inputs:
    return lambda v: [{"series": series, "values": f"{v:g}x{MINUTES}"}]


def _ratio(part: str, rest: str, per_minute: float = 100) -> Inputs:
    """Two counters whose rates make `part` the share `value` of the total."""
    return lambda v: [{"series": part, "values": f"0+{v * per_minute:g}x{MINUTES}"},
                      {"series": rest, "values": f"0+{(1 - v) * per_minute:g}x{MINUTES}"}]


def _p95(route: str) -> Inputs:
    """Histogram buckets whose interpolated p95 is `value`: every request <= 2v, a share a of them
    <= v/2, so p95 = v/2 + 1.5v * (95 - a) / (100 - a); solved for a."""
    def make(v: float) -> list[dict]:
        lo, hi, target, n = v / 2, v * 2, v, 100.0
        f = (target - lo) / (hi - lo)
        a = (0.95 * n - f * n) / (1 - f)
        name = f'request_duration_seconds_bucket{{route="{route}",method="GET",le="%s"}}'
        return [{"series": name % f"{lo:g}", "values": f"0+{a:.6g}x{MINUTES}"},
                {"series": name % f"{hi:g}", "values": f"0+{n:g}x{MINUTES}"},
                {"series": name % "+Inf", "values": f"0+{n:g}x{MINUTES}"}]
    return make


# Alerts per endpoint or route: how to drive one value of the domain (tests/rules/rulekit.label_domain).
PER_VALUE: dict[str, Callable[[str], Inputs]] = {
    "HighAPILatency": _p95,
    "CriticalAPILatency": _p95,
    "HighErrorRate": lambda e: _counter(f'errors_total{{endpoint="{e}",status="500"}}'),
    "CriticalErrorRate": lambda e: _counter(f'errors_total{{endpoint="{e}",status="500"}}'),
    "HighRateLimitRejections": lambda r: _counter(f'ratelimit_block_total{{route="{r}"}}'),
}

INPUTS: dict[str, Inputs] = {
    **{alert: make("/signals") for alert, make in PER_VALUE.items()},
    "DatabaseConnectionPoolExhausted": _gauge('db_connection_pool_size{job="backend",instance="127.0.0.1:8000"}'),
    "PaymentWebhookFailures": _counter('webhook_events_total{outcome="replay_attack"}'),
    "EAPollErrors": _counter('ea_errors_total{endpoint="/ea/poll",error_type="invalid_signature"}'),
    "HighApprovalRejectionRate": _ratio('approvals_total{result="rejected"}', 'approvals_total{result="approved"}'),
}


def boundary_groups(promises, per_value: dict[str, list[str]] | None = None) -> list[dict]:
    """Two groups per alert with a non-zero threshold: x1.04 fires, x0.96 stays silent. An alert per
    endpoint or route is driven on every value of its domain at once, and must fire for each of them: a
    rule that ignores one endpoint fires one alert short."""
    drives = {}
    for p in promises.alerts.values():
        if p.threshold.value == 0 or p.threshold.op not in (">", ">="):
            continue  # `== 0` has no neighbourhood to drift in; the mutation tests move it to 1
        values = (per_value or {}).get(p.alert, [])  # alert -> the values of its endpoint or route label
        makes = tuple(PER_VALUE[p.alert](v) for v in values) if values else (INPUTS[p.alert],)
        drives[p.alert] = Drive(makes, per_value=bool(values))
    return shipped_groups(promises, drives)
