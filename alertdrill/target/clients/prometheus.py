"""Prometheus HTTP API: instant queries, alert states, targets, rules, reload."""
from __future__ import annotations

import math
from dataclasses import dataclass

import httpx

from alertdrill.target.clients.http import HttpApi


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class AlertState:
    """One alert instance as Prometheus's rule manager sees it."""

    name: str
    state: str  # pending | firing
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_at: str


class PrometheusError(RuntimeError):
    pass


# Prometheus' own HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/): every path below.
API_VERSION = 1
API = f"/api/v{API_VERSION}"


class PrometheusClient(HttpApi):
    def _get(self, path: str, **params) -> dict:
        path = API + path
        resp = self._http.get(path, params=params or None)
        body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
        if resp.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(
                f"GET {self.base_url}{path} {params or ''} -> {resp.status_code}: "
                f"{body.get('errorType', '')} {body.get('error', resp.text[:300])}"
            )
        return body["data"]

    def query_raw(self, expr: str) -> dict:
        """The full response (status and data) of an instant query, as the runbook's curl lines get it."""
        resp = self._http.get(API + "/query", params={"query": expr})
        return resp.json()

    def query(self, expr: str) -> list[Sample]:
        data = self._get("/query", query=expr)
        if data["resultType"] == "vector":
            return [Sample(r["metric"], float(r["value"][1])) for r in data["result"]]
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        raise PrometheusError(f"query {expr!r} returned {data['resultType']}, expected an instant vector")

    def value(self, expr: str) -> float | None:
        """The largest value of an instant query (None when empty or NaN): enough for threshold checks."""
        values = [s.value for s in self.query(expr) if not math.isnan(s.value)]
        return max(values) if values else None

    def alerts(self) -> list[AlertState]:
        data = self._get("/alerts")
        return [
            AlertState(
                name=a["labels"].get("alertname", ""),
                state=a["state"],
                labels=a["labels"],
                annotations=a.get("annotations", {}),
                value=float(a.get("value", "nan")),
                active_at=a.get("activeAt", ""),
            )
            for a in data["alerts"]
        ]

    def rules(self) -> list[dict]:
        """Alerting rules currently loaded (name, query, duration, labels)."""
        groups = self._get("/rules", type="alert")["groups"]
        return [rule for g in groups for rule in g["rules"]]

    def rule_groups(self) -> list[dict]:
        """Every loaded rule group with its evaluation state (name, interval, lastEvaluation, rules)."""
        return self._get("/rules")["groups"]

    def config(self) -> dict:
        """The configuration the running Prometheus loaded (parsed YAML)."""
        import yaml

        return yaml.safe_load(self._get("/status/config")["yaml"]) or {}

    def targets(self) -> list[dict]:
        return self._get("/targets")["activeTargets"]

    def reload(self) -> None:
        resp = self._http.post("/-/reload")
        if resp.status_code != 200:
            raise PrometheusError(f"reload failed ({resp.status_code}): {resp.text.strip()}")

    def ready(self) -> bool:
        try:
            return self._http.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False
