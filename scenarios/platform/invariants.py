"""The reference platform's invariants: nothing lost, nothing applied twice. Each check reads the
platform's real state (SQL, the generator's own counters) and returns a summary, or raises
InvariantViolated."""
from __future__ import annotations

import httpx
import psycopg

from alertdrill.errors import InvariantViolated
from alertdrill.wait import until
from scenarios.platform.traffic import TrafficLog

GENERATOR_SOURCE = "signal-generator"


def generator_ledger(generator_url: str, since: float) -> list[dict]:
    """What the generator says became of each signal it generated since `since`."""
    return httpx.get(f"{generator_url}/signals", params={"since": since}, timeout=10).json()["signals"]


def signals_stored_since(generator_url: str, dsn: str, since: float, drain_timeout: float = 60) -> str:
    """Every signal the generator created since `since` and delivered is stored exactly once, none is
    left undelivered (the backlog drained after recovery), none was rejected, and no stored generator
    signal of that period is unknown to the generator."""
    seen: dict = {}

    def drained() -> bool:
        seen["ledger"] = generator_ledger(generator_url, since)
        return not any(s["state"] == "pending" for s in seen["ledger"])

    until(drained, drain_timeout, poll=1.0, on_timeout=lambda: None)  # the check below says what is left
    ledger = seen["ledger"]
    by_state: dict[str, list[str]] = {}
    for s in ledger:
        by_state.setdefault(s["state"], []).append(s["client_ref"])
    delivered = by_state.get("delivered", [])
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        counts = dict(conn.execute(
            "SELECT client_ref, count(*) FROM signals WHERE client_ref = ANY(%s) GROUP BY client_ref",
            (delivered,)).fetchall())
        # Rows stored for the generator in the period, to find any it never generated (created twice).
        first = min((s["generated_at"] for s in ledger), default=since)
        stored_refs = {r[0] for r in conn.execute(
            "SELECT client_ref FROM signals WHERE source = %s AND created_at >= to_timestamp(%s)",
            (GENERATOR_SOURCE, first)).fetchall()}
    # Signals generated just before `since` may be stored inside the period: they are known too.
    known = {s["client_ref"] for s in generator_ledger(generator_url, 0.0)}
    lost = [r for r in delivered if counts.get(r, 0) == 0]
    twice = {r: n for r, n in counts.items() if n != 1}
    strangers = sorted(stored_refs - known)
    seen = (f"{len(ledger)} generated since the drill began: " +
            ", ".join(f"{k} {len(v)}" for k, v in sorted(by_state.items())) + f"; {len(counts)} stored")
    if by_state.get("pending"):
        raise InvariantViolated(f"{len(by_state['pending'])} signals still undelivered {drain_timeout:.0f}s after "
                                "recovery", expected="the generator's backlog drained", seen=seen,
                                hint="docker logs signal-generator")
    if lost or twice or strangers or by_state.get("rejected"):
        raise InvariantViolated("signals were lost, rejected or stored twice during the drill",
                                expected="every delivered signal stored exactly once, none rejected",
                                seen=f"{seen}; lost {lost[:5]}; stored twice {twice}; unknown rows "
                                     f"{strangers[:5]}; rejected {by_state.get('rejected', [])[:5]}")
    return seen


def webhooks_exactly_once(log: TrafficLog, dsn: str) -> str:
    sent = list(log.events_sent)
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = dict(conn.execute(
            "SELECT event_id, count(*) FROM payments WHERE event_id = ANY(%s) GROUP BY event_id", (sent,)).fetchall())
    missing = [e for e in sent if e not in rows]
    twice = {e: n for e, n in rows.items() if n != 1}
    seen = (f"{len(sent)} events sent, {len(log.events_accepted)} accepted, {len(log.events_duplicate)} answered "
            f"duplicate on retry, {log.delivery_failures} failed deliveries retried, {len(rows)} payments stored")
    if log.pending_events or missing or twice:
        raise InvariantViolated("a payment webhook was lost or applied twice", expected="one payment row per event",
                                seen=f"{seen}; never accepted: {sorted(log.pending_events)[:5]}; no row: "
                                     f"{missing[:5]}; rows != 1: {twice}")
    return seen


def acks_exactly_once(log: TrafficLog, device_id: str, dsn: str) -> str:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        rows = dict(conn.execute(
            "SELECT signal_id, count(*) FROM ea_acks WHERE device_id = %s GROUP BY signal_id", (device_id,)).fetchall())
    accepted = log.acks_accepted | log.acks_duplicate
    lost = sorted(accepted - set(rows))
    twice = {s: n for s, n in rows.items() if n != 1}
    seen = f"{len(log.acks_accepted)} acks accepted, {len(rows)} ack rows, {log.ea_failures} EA requests failed"
    if lost or twice:
        raise InvariantViolated("an EA acknowledgement was lost or applied twice",
                                expected="one ea_acks row per acknowledged signal",
                                seen=f"{seen}; lost: {lost[:5]}; rows != 1: {twice}")
    return seen
