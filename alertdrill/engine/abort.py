"""When a drill stops early (DrillAborted): past its maximum duration, when a critical alert nobody
expected fires (`--abort-on-critical`), or when a health probe (`--health-probe URL`) fails for longer
than its grace (`--probe-grace S`). Checked at every poll of every wait; the drill then heals its faults
and the timeline says why it stopped."""
from __future__ import annotations

import time

import httpx

from alertdrill.errors import DrillAborted

CHECK_EVERY_S = 1.0
PROBE_TIMEOUT_S = 3.0


class AbortConditions:
    def __init__(self, gameday) -> None:
        self.gameday = gameday
        self.failing_since: dict[str, float] = {}
        self.last_seen: dict[str, str] = {}
        self._checked = 0.0

    def check(self, drill) -> None:
        self._max_duration(drill)
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY_S:
            return
        self._checked = now
        if self.gameday.abort_on_critical:
            self._unrelated_critical(drill)
        for url in self.gameday.health_probes:
            self._probe(drill, url, now)

    def _max_duration(self, drill) -> None:
        limit = self.gameday.max_drill_s
        if limit is not None and time.time() - drill.started > limit:
            raise DrillAborted(
                f"the {drill.timeline.scenario} drill reached its maximum duration of {limit:g}s",
                expected=f"{drill.expect.alertname} fired, mitigated and resolved within {limit:g}s",
                seen=drill.obs.situation(),
                hint="the faults are healed; raise --max-drill-duration if the people on call need longer")

    def _unrelated_critical(self, drill) -> None:
        for a in drill.obs.unexpected_firing():
            if a.labels.get("severity") != "critical":
                continue  # any unexpected alert fails the drill anyway; only a critical one stops it here
            raise DrillAborted(f"an unrelated critical alert fired during the {drill.expect.alertname} drill: {a.name}",
                               expected=f"only {drill.expect.alertname} and its named side effects",
                               seen=drill.obs.situation(),
                               hint="the faults are healed; something else is wrong: handle that incident first")

    def _probe(self, drill, url: str, now: float) -> None:
        try:
            resp = httpx.get(url, timeout=PROBE_TIMEOUT_S)
            ok, seen = resp.is_success, f"{resp.status_code} {resp.text[:120]}"
        except httpx.HTTPError as exc:
            ok, seen = False, f"unreachable: {exc}"
        if ok:
            self.failing_since.pop(url, None)
            return
        since = self.failing_since.setdefault(url, now)
        grace = self.gameday.probe_grace_s
        if now - since > grace:
            raise DrillAborted(f"the health probe {url} failed for more than {grace:g}s",
                               expected=f"{url} answering 2xx (or failing for at most {grace:g}s)",
                               seen=f"{seen}, failing for {now - since:.0f}s",
                               hint="the faults are healed; the drill hurt more than planned: say so in the review")
