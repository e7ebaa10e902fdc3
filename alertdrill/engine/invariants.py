"""Invariants the engine knows for any platform: what the runbook's inhibitions promise about who was
notified. Each check returns a summary of what held, or raises InvariantViolated. A platform's own
invariants (nothing lost, nothing applied twice) live beside its scenarios, as the reference platform's
do in scenarios/platform/invariants.py."""
from __future__ import annotations

from alertdrill.errors import InvariantViolated


def _labelled(notification, labels: dict[str, str]) -> bool:
    return all(notification.labels.get(k) == v for k, v in labels.items())


def inhibited_never_notified(ctx, source: str, labels: dict[str, str], since: float) -> str:
    """No alert that `source` inhibits (per the runbook) reached any receiver for the same labels while
    `source` fired in Alertmanager: from its first firing notice to the end its first resolved notice
    carries (or to now). Looked up from `since` (the fault).

    The window opens at the source's first notice: until Alertmanager holds the source nothing can
    inhibit, and a twin already firing on its own (say from a latency spike before the fault) rightly
    notified first; the evidence step `inhibited` proves Alertmanager then holds it back. The window
    closes at the source's own endsAt, when Prometheus saw it resolve, not when the drill next looked:
    a drill busy with a check when the critical alert resolves may see it seconds later, and the twin
    may rightly notify in between. A source that never notified leaves the window open from `since`."""
    fired = [n.received_at for n in ctx.sink.notifications(alertname=source, status="firing", since=since)
             if _labelled(n, labels)]
    ended = [n.ends_at for n in ctx.sink.notifications(alertname=source, status="resolved", since=since)
             if _labelled(n, labels) and n.ends_at is not None]
    start, until = min(fired, default=since), min(ended, default=None)
    window = (f"while {source} fired (from its first notice at {start:.1f}"
              + (f" until its endsAt {until:.1f})" if until is not None else " on)"))
    shown = []
    for inh in ctx.promises.alert(source).inhibits:
        want = {k: labels[k] for k in inh.equal}
        twins = [n for n in ctx.sink.notifications(alertname=inh.target, status="firing", since=since)
                 if _labelled(n, want)]
        notes = [n for n in twins if n.received_at >= start and (until is None or n.received_at < until)]
        if notes:
            raise InvariantViolated(f"{inh.target} reached a receiver although {source} should inhibit it",
                                    expected=f"no {inh.target} {want} notification {window}",
                                    seen="; ".join(n.describe() for n in notes),
                                    hint=f"check the inhibit_rules (source {source}, target {inh.target}, "
                                         f"equal {list(inh.equal)})")
        earlier = [n for n in twins if n.received_at < start]
        shown.append(f"no {inh.target}{want} notification {window}"
                     + (f"; it fired on its own before: {'; '.join(n.describe() for n in earlier)}" if earlier else ""))
    return "; ".join(shown) or f"{source} inhibits nothing"
