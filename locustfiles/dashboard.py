"""Dashboard traffic: traders with the web dashboard open.

    locust -f locustfiles/dashboard.py --host http://127.0.0.1:8000

DashboardUser logs in (POST /api/v1/auth/login as the demo trader) and then, weighted:
  signals   GET /api/v1/signals?limit=20             (weight 3)  stats name "/signals"
  approvals GET /api/v1/approvals?status=pending     (weight 2)  stats name "/approvals"
  market    GET /api/v1/market/{instrument}          (weight 1)  stats name "/market/{instrument}"
            instrument drawn from EURUSD, GBPUSD, XAUUSD, USDJPY
Stats names are the backend's route labels, so locust's figures line up with http_requests_total{route}.
A 401 (session lost, e.g. Redis flushed) is a failure and the user logs in again before its next task;
a failed login is a failure and is retried on the next task.

Environment (read when each user starts):
  DASHBOARD_WAIT       seconds between task starts per user, via constant_pacing (default 1 -> ~1 req/s/user)
  DASHBOARD_TASKS      comma list restricting the tasks to some of: signals, approvals, market
                       (e.g. "market" aims all load at /market/{instrument}); default: all, weighted
  DASHBOARD_CLIENT_IP  one loopback source address for every user; default: each user its own
                       127.3.<x>.<y> (counted per process; the flood's 127.0.0.66 is in another block)
  LOAD_EMAIL, LOAD_PASSWORD  the account (default trader@example.com / trader-password)
"""
from __future__ import annotations

import random

from locust import HttpUser, constant_pacing, task

import _shared as sh

INSTRUMENTS = ("EURUSD", "GBPUSD", "XAUUSD", "USDJPY")
TASKS = ("signals", "approvals", "market")


class DashboardUser(HttpUser):
    def on_start(self) -> None:
        self._pace = constant_pacing(sh.env_float("DASHBOARD_WAIT", 1.0, minimum=0.0))
        enabled = sh.env_list("DASHBOARD_TASKS", TASKS)
        # Restrict the weighted task list of this instance (DefaultTaskSet picks from self.tasks).
        self.tasks = [t for t in type(self).tasks if t.__name__ in enabled]
        sh.with_address(self, sh.client_address("127.3", "DASHBOARD_CLIENT_IP"))
        self.token: str | None = None

    def wait_time(self) -> float:
        return self._pace(self)

    def _get(self, path: str, name: str) -> None:
        if self.token is None:
            self.token = sh.login(self)
            if self.token is None:
                return
        with self.client.get(path, headers=sh.bearer(self.token), name=name, catch_response=True) as resp:
            if resp.status_code == 200:
                resp.success()
            else:
                if resp.status_code == 401:
                    self.token = None  # log in again before the next task
                resp.failure(f"HTTP {resp.status_code} {resp.text[:120]}")

    @task(3)
    def signals(self) -> None:
        self._get(f"{sh.API}/signals?limit=20", "/signals")

    @task(2)
    def approvals(self) -> None:
        self._get(f"{sh.API}/approvals?status=pending", "/approvals")

    @task(1)
    def market(self) -> None:
        self._get(f"{sh.API}/market/{random.choice(INSTRUMENTS)}", "/market/{instrument}")
