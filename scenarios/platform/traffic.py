"""Background customer traffic during a drill, bounded in count and time, that records what the platform
accepted so invariants can check nothing was lost or applied twice.

- Stripe: a new checkout event every `period`; a delivery that is not answered 2xx is retried later,
  as Stripe retries failed deliveries.
- An EA: polls for signals and acknowledges each one offered; a failed ack is retried on a later poll
  (the signal is offered again until acknowledged).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from scenarios.platform.client import Device, PlatformClient, checkout_event
from alertdrill.wait import until


@dataclass
class TrafficLog:
    events_sent: dict[str, dict] = field(default_factory=dict)  # event id -> event
    events_accepted: set[str] = field(default_factory=set)
    events_duplicate: set[str] = field(default_factory=set)  # answered "duplicate" to our own first retry
    delivery_failures: int = 0
    acks_accepted: set[int] = field(default_factory=set)  # signal ids acknowledged (first time)
    acks_duplicate: set[int] = field(default_factory=set)
    ea_failures: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def pending_events(self) -> set[str]:
        return set(self.events_sent) - self.events_accepted - self.events_duplicate


class CustomerTraffic:
    def __init__(self, backend_url: str, *, period: float = 2.0, max_seconds: float = 600,
                 source_address: str = "127.0.0.20") -> None:
        self.client = PlatformClient(backend_url, source_address=source_address, timeout=5.0)
        self.period, self.max_seconds = period, max_seconds
        self.log = TrafficLog()
        self.device: Device | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="customer-traffic", daemon=True)

    def start(self) -> "CustomerTraffic":
        self.device = self.client.register_device()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.tick(new_event=True)
            self._stop.wait(self.period)

    def tick(self, *, new_event: bool) -> None:
        if new_event:
            event = checkout_event()
            self.log.events_sent[event["id"]] = event
        for event_id in sorted(self.log.pending_events):
            self._deliver(event_id)
        self._ea_round()

    def _deliver(self, event_id: str) -> None:
        try:
            resp = self.client.webhook(self.log.events_sent[event_id])
        except httpx.HTTPError as exc:
            self.log.delivery_failures += 1
            self.log.errors.append(f"webhook {event_id}: {type(exc).__name__}")
            return
        if resp.status_code // 100 != 2:
            self.log.delivery_failures += 1
            return
        status = resp.json().get("status")
        # A retry answered "duplicate" means an earlier attempt was applied but its answer was lost.
        (self.log.events_accepted if status == "processed" else self.log.events_duplicate).add(event_id)

    def _ea_round(self) -> None:
        assert self.device is not None
        try:
            resp = self.client.ea_poll(self.device)
            if resp.status_code != 200:
                self.log.ea_failures += 1
                return
            for signal in resp.json()["signals"][:5]:
                ack = self.client.ea_ack(self.device, signal["id"])
                if ack.status_code == 200:
                    body = ack.json()
                    (self.log.acks_duplicate if body.get("duplicate") else self.log.acks_accepted).add(signal["id"])
                else:
                    self.log.ea_failures += 1
        except httpx.HTTPError as exc:
            self.log.ea_failures += 1
            self.log.errors.append(f"ea: {type(exc).__name__}")

    def drain(self, timeout: float = 60) -> None:
        """After recovery: keep retrying undelivered events until every one is accepted (or time runs out)."""
        def delivered() -> bool:
            if self.log.pending_events:
                self.tick(new_event=False)
            return not self.log.pending_events

        until(delivered, timeout, poll=0.5, on_timeout=lambda: None)  # the invariant reports what is left
