"""One abusive client flooding a route, beside ordinary clients of the same route.

    locust -f locustfiles/flood.py --host http://127.0.0.1:8000 -u 4 -r 4

FloodUser (fixed_count = 1: exactly one is spawned whatever -u says; for more, use locust's
`--config-users '{"user_class_name": "FloodUser", "fixed_count": N}'`): every FloodUser sends the same
source address (FLOOD_IP), logs in once, then hammers FLOOD_PATH with its token as fast as FLOOD_RPS
allows (constant_throughput). 429 (rate limited) and 403 (denylisted) are the answers an abusive client
expects: they are marked success, so locust counts only real failures (5xx, 401, timeouts...). Stats names
"[flood] <FLOOD_PATH>" and "[flood] /auth/login". If its login is refused (403/429) it retries at most every
5 s and floods without a token meanwhile (the 401s that may earn are failures).

NormalUser (all the other users): ordinary clients, each its own address, NORMAL_RPS requests/s on the same
FLOOD_PATH. Any non-2xx - a 429 or 403 included - is a failure: a well-behaved client must never be caught
by the limits meant for the abusive one. Stats names "[normal] <FLOOD_PATH>" and "[normal] /auth/login".

Environment (read when each user starts):
  FLOOD_IP          the abusive client's loopback source address (default 127.0.0.66)
  FLOOD_PATH        path (with query) both classes request (default /api/v1/signals?limit=5)
  FLOOD_RPS         requests/s per FloodUser, via constant_throughput (default 20)
  NORMAL_RPS        requests/s per NormalUser, via constant_throughput (default 2)
  NORMAL_CLIENT_IP  one loopback source address for every NormalUser; default each its own 127.5.<x>.<y>
                    (a block of its own, so ordinary clients never share a rate-limit budget with the
                    dashboard's 127.3.<x>.<y> users)
  LOAD_EMAIL, LOAD_PASSWORD  the account (default trader@example.com / trader-password)
"""
from __future__ import annotations

import time

from locust import HttpUser, constant_throughput, task

import _shared as sh

LOGIN_RETRY_SECONDS = 5.0


def _flood_path() -> str:
    path = sh.env_str("FLOOD_PATH", f"{sh.API}/signals?limit=5")
    if not path.startswith("/"):
        raise ValueError(f"FLOOD_PATH={path!r}: expected a path starting with '/', e.g. /api/v1/signals?limit=5")
    return path


class FloodUser(HttpUser):
    fixed_count = 1

    def on_start(self) -> None:
        self._pace = constant_throughput(sh.env_float("FLOOD_RPS", 20.0, minimum=0.0, allow_equal=False))
        self.path = _flood_path()
        sh.with_address(self, sh.loopback_address(sh.env_str("FLOOD_IP", "127.0.0.66"), "FLOOD_IP"))
        self.token: str | None = None
        self._last_login = float("-inf")

    def wait_time(self) -> float:
        return self._pace(self)

    @task
    def flood(self) -> None:
        if self.token is None and time.monotonic() - self._last_login >= LOGIN_RETRY_SECONDS:
            self._last_login = time.monotonic()
            self.token = sh.login(self, expected=(403, 429), name="[flood] /auth/login")
        with self.client.get(self.path, headers=sh.bearer(self.token), name=f"[flood] {self.path}",
                             catch_response=True) as resp:
            if 200 <= resp.status_code < 300 or resp.status_code in (403, 429):
                resp.success()
            else:
                if resp.status_code == 401:
                    self.token = None
                resp.failure(f"HTTP {resp.status_code} {resp.text[:120]}")


class NormalUser(HttpUser):
    def on_start(self) -> None:
        self._pace = constant_throughput(sh.env_float("NORMAL_RPS", 2.0, minimum=0.0, allow_equal=False))
        self.path = _flood_path()
        sh.with_address(self, sh.client_address("127.5", "NORMAL_CLIENT_IP"))
        self.token: str | None = None

    def wait_time(self) -> float:
        return self._pace(self)

    @task
    def browse(self) -> None:
        if self.token is None:
            self.token = sh.login(self, name="[normal] /auth/login")
            if self.token is None:
                return
        with self.client.get(self.path, headers=sh.bearer(self.token), name=f"[normal] {self.path}",
                             catch_response=True) as resp:
            if 200 <= resp.status_code < 300:
                resp.success()
                return
            if resp.status_code == 401:
                self.token = None
            what = {429: "rate limited", 403: "denylisted"}.get(resp.status_code, "failed")
            resp.failure(f"ordinary client {self.client_address} {what}: HTTP {resp.status_code} {resp.text[:120]}")
