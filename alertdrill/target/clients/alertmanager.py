"""Alertmanager v2 API: active alerts (with inhibition state), posting a test alert, reload."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alertdrill.target.clients.http import HttpApi


class AlertmanagerClient(HttpApi):
    def alerts(self, *, active: bool = True, inhibited: bool = True, silenced: bool = True) -> list[dict]:
        params = {"active": str(active).lower(), "inhibited": str(inhibited).lower(), "silenced": str(silenced).lower()}
        resp = self._http.get("/api/v2/alerts", params=params)
        resp.raise_for_status()
        return resp.json()

    def post_alert(self, labels: dict[str, str], annotations: dict[str, str] | None = None, *, minutes: int = 5) -> None:
        now = datetime.now(timezone.utc)
        alert = {
            "labels": labels,
            "annotations": annotations or {},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=minutes)).isoformat(),
        }
        resp = self._http.post("/api/v2/alerts", json=[alert])
        resp.raise_for_status()

    def resolve_alert(self, labels: dict[str, str]) -> None:
        """Post the same alert with endsAt now, which resolves it."""
        now = datetime.now(timezone.utc).isoformat()
        resp = self._http.post("/api/v2/alerts", json=[{"labels": labels, "startsAt": now, "endsAt": now}])
        resp.raise_for_status()

    def status(self) -> dict:
        resp = self._http.get("/api/v2/status")
        resp.raise_for_status()
        return resp.json()

    def reload(self) -> None:
        resp = self._http.post("/-/reload")
        if resp.status_code != 200:
            raise RuntimeError(f"alertmanager reload failed ({resp.status_code}): {resp.text.strip()}")
