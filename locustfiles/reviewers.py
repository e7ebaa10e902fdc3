"""Reviewers working through the approval queue.

    locust -f locustfiles/reviewers.py --host http://127.0.0.1:8000

ReviewerUser logs in, then each task: GET /api/v1/approvals?status=pending (stats name "/approvals") and,
for up to REVIEW_BATCH of the pending signals (picked at random), POST /api/v1/approvals/{id}
{"decision": 1 if quality >= REVIEW_MIN_QUALITY else 0} (stats name "/approvals/{signal_id}").
Several reviewers race for the same signals: 409 "already decided" is an expected answer (success);
201 is success; anything else (401, 404, 5xx...) is a failure. After a 401 the reviewer logs in again.

Environment (read when each user starts):
  REVIEW_WAIT          seconds between task starts per reviewer, via constant_pacing (default 1)
  REVIEW_MIN_QUALITY   approve (1) when quality >= this, else reject (0) (default 0.5)
  REVIEW_BATCH         at most this many decisions per task (default 3; 0 = only read the queue)
  REVIEW_QUEUE         how many of the newest pending signals a reviewer looks at (default 100, max 1000)
  REVIEW_MAX_AGE       only signals at most this many seconds old (their created_at), as traders skip a
                       stale signal; 0 = any age (default 0)
  REVIEW_CLIENT_IP     one loopback source address for every reviewer; default each its own 127.6.<x>.<y>
  LOAD_EMAIL, LOAD_PASSWORD  the account (default trader@example.com / trader-password)
"""
from __future__ import annotations

import random
from datetime import datetime, timezone

from locust import HttpUser, constant_pacing, task

import _shared as sh


class ReviewerUser(HttpUser):
    def on_start(self) -> None:
        self._pace = constant_pacing(sh.env_float("REVIEW_WAIT", 1.0, minimum=0.0))
        self.min_quality = sh.env_float("REVIEW_MIN_QUALITY", 0.5, minimum=0.0)
        self.batch = sh.env_int("REVIEW_BATCH", 3, minimum=0)
        self.queue = sh.env_int("REVIEW_QUEUE", 100, minimum=1)
        self.max_age = sh.env_float("REVIEW_MAX_AGE", 0.0, minimum=0.0)
        sh.with_address(self, sh.client_address("127.6", "REVIEW_CLIENT_IP"))
        self.token: str | None = None

    def wait_time(self) -> float:
        return self._pace(self)

    def _auth_failed(self, resp) -> None:
        if resp.status_code == 401:
            self.token = None
        resp.failure(f"HTTP {resp.status_code} {resp.text[:120]}")

    @task
    def review(self) -> None:
        if self.token is None:
            self.token = sh.login(self)
            if self.token is None:
                return
        with self.client.get(f"{sh.API}/approvals?status=pending&limit={self.queue}", headers=sh.bearer(self.token),
                             name="/approvals", catch_response=True) as resp:
            if resp.status_code != 200:
                self._auth_failed(resp)
                return
            try:
                pending = [(int(a["id"]), float(a["quality"]), datetime.fromisoformat(a["created_at"]))
                           for a in resp.json()["approvals"]]
            except (ValueError, KeyError, TypeError):
                resp.failure(f"approvals answer without approvals[].id/quality/created_at: {resp.text[:120]}")
                return
            resp.success()
        if self.max_age:
            now = datetime.now(timezone.utc)
            pending = [p for p in pending if (now - _aware(p[2])).total_seconds() <= self.max_age]
        for signal_id, quality, _created in random.sample(pending, min(self.batch, len(pending))):
            decision = 1 if quality >= self.min_quality else 0
            with self.client.post(f"{sh.API}/approvals/{signal_id}", json={"decision": decision},
                                  headers=sh.bearer(self.token), name="/approvals/{signal_id}",
                                  catch_response=True) as resp:
                if resp.status_code in (201, 409):  # 409: another reviewer decided it first
                    resp.success()
                else:
                    self._auth_failed(resp)
                    if self.token is None:
                        return


def _aware(t: datetime) -> datetime:
    """created_at as the backend sends it (UTC, with or without its offset)."""
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
