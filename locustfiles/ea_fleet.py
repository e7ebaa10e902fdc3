"""A fleet of MT5 expert advisors (EAs) polling for signals and acknowledging them, HMAC-signed.

    locust -f locustfiles/ea_fleet.py --host http://127.0.0.1:8000

EAUser, on start, gets device credentials:
  - EA_CREDENTIALS_FILE set: a JSON object {device_id: secret, ...}; user k of this process (k counted
    per process) takes device k modulo the number of devices. The file is re-read whenever its mtime
    changes (a drill's remediation re-registers devices and rewrites the file; running EAs pick the new
    secrets up as a user re-entering credentials would). An EA keeps its device while the file still lists
    it (with the new secret); otherwise it takes its slot in the new list. A half-written/invalid file is
    ignored until the next change (the EA keeps its old credentials meanwhile).
  - otherwise: logs in as the demo trader and registers its own device (POST /api/v1/devices). Such a
    device only sees signals created after its registration; if it is revoked the EA keeps failing
    (auth_failed), as a real EA would until someone re-enters credentials.
Task (one per pacing period): GET /api/v1/ea/poll (stats name "/ea/poll"), then POST /api/v1/ea/ack
{"signal_id": id} (stats name "/ea/ack") for every offered signal, each request signed with a fresh nonce
(X-Device-Id, X-Timestamp, X-Nonce, X-Signature = HMAC-SHA256(secret, "METHOD\\nPATH\\nTS\\nNONCE\\n" + body)).
Any non-200 answer is a failure; a failed ack is retried naturally, as the signal is offered again.

Environment (read when each user starts):
  EA_CREDENTIALS_FILE  JSON {device_id: secret} to take devices from (see above); default: self-register
  EA_WAIT              seconds between polls per EA, via constant_pacing (default 1)
  EA_REPLAY_NONCES     1 -> a broken EA: every request of the user reuses one nonce, so all but its first
                       request answer 409 nonce_replay (ea_errors_total{error_type="nonce_replay"});
                       those answers count as failures (default 0)
  EA_ACK_LOG           file path: for every ack answered 200, append one line
                       "<device_id> <signal_id> <status> <duplicate>" (status 200, duplicate true|false),
                       flushed per line, so a drill can check each offered signal was acked exactly once
                       (duplicate=false once per device and signal)
  EA_CLIENT_IP         one loopback source address for every EA; default: each EA its own 127.4.<x>.<y>
  LOAD_EMAIL, LOAD_PASSWORD  the account used to self-register (default the demo trader)
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import secrets

from locust import HttpUser, constant_pacing, task

import _shared as sh

POLL_PATH = f"{sh.API}/ea/poll"
ACK_PATH = f"{sh.API}/ea/ack"

_slots = itertools.count()  # per-process user counter: which device of the credentials file a user takes
log = logging.getLogger("ea_fleet")


def read_credentials(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not data or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in data.items()):
        raise ValueError(f"{path}: expected a non-empty JSON object {{device_id: secret, ...}} of strings")
    return data


class EAUser(HttpUser):
    def on_start(self) -> None:
        self._pace = constant_pacing(sh.env_float("EA_WAIT", 1.0, minimum=0.0))
        self.replay = sh.env_flag("EA_REPLAY_NONCES")
        self.fixed_nonce = secrets.token_hex(12)
        self.ack_log = os.environ.get("EA_ACK_LOG", "").strip() or None
        self.creds_file = os.environ.get("EA_CREDENTIALS_FILE", "").strip() or None
        self.slot = next(_slots)
        self.device_id: str | None = None
        self.secret: str | None = None
        self.token: str | None = None
        self._creds_stamp: tuple[int, int] | None = None
        sh.with_address(self, sh.client_address("127.4", "EA_CLIENT_IP"))
        if self.creds_file:
            if not os.path.isfile(self.creds_file):
                raise ValueError(f"EA_CREDENTIALS_FILE={self.creds_file!r}: no such file "
                                 "(a JSON object {device_id: secret}); unset it to self-register devices")
            self._refresh_credentials(strict=True)

    def wait_time(self) -> float:
        return self._pace(self)

    # -------------------------------------------------------------- credentials
    def _refresh_credentials(self, strict: bool = False) -> None:
        try:
            st = os.stat(self.creds_file)
        except OSError:
            return  # being replaced: keep the current credentials
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._creds_stamp:
            return
        try:
            creds = read_credentials(self.creds_file)
        except (OSError, ValueError) as exc:
            if strict:
                raise ValueError(f"EA_CREDENTIALS_FILE={self.creds_file!r}: {exc}") from exc
            return  # half-written: try again on the next task
        self._creds_stamp = stamp
        if self.device_id in creds:
            self.secret = creds[self.device_id]
            return
        devices = list(creds.items())
        old = self.device_id
        self.device_id, self.secret = devices[self.slot % len(devices)]
        if old is not None:
            log.info("EA slot %d switched device %s -> %s (credentials file changed)", self.slot, old, self.device_id)

    def _ensure_device(self) -> bool:
        if self.creds_file:
            self._refresh_credentials()
            return self.device_id is not None
        if self.device_id is not None:
            return True
        if self.token is None:
            self.token = sh.login(self)
            if self.token is None:
                return False
        with self.client.post(f"{sh.API}/devices", headers=sh.bearer(self.token), name="/devices",
                              catch_response=True) as resp:
            if resp.status_code == 201:
                try:
                    body = resp.json()
                    self.device_id, self.secret = body["device_id"], body["secret"]
                except (ValueError, KeyError, TypeError):
                    resp.failure("device registration answered 201 without device_id/secret")
                    return False
                resp.success()
                return True
            if resp.status_code == 401:
                self.token = None
            resp.failure(f"device registration failed: HTTP {resp.status_code} {resp.text[:120]}")
            return False

    def _signed(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        return sh.ea_headers(self.device_id, self.secret, method, path, body,
                             nonce=self.fixed_nonce if self.replay else None)

    # -------------------------------------------------------------- the EA loop
    @task
    def poll(self) -> None:
        if not self._ensure_device():
            return
        offered: list[int] = []
        with self.client.get(POLL_PATH, headers=self._signed("GET", POLL_PATH), name="/ea/poll",
                             catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code} {resp.text[:120]}")
                return
            try:
                offered = [int(s["id"]) for s in resp.json()["signals"]]
            except (ValueError, KeyError, TypeError):
                resp.failure(f"poll answer without signals[].id: {resp.text[:120]}")
                return
            resp.success()
        for signal_id in offered:
            self._ack(signal_id)

    def _ack(self, signal_id: int) -> None:
        device_id = self.device_id
        body = json.dumps({"signal_id": signal_id}).encode()
        with self.client.post(ACK_PATH, data=body, headers=self._signed("POST", ACK_PATH, body), name="/ea/ack",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code} {resp.text[:120]}")
                return
            try:
                duplicate = bool(resp.json().get("duplicate"))
            except (ValueError, AttributeError):
                resp.failure(f"ack answer not JSON: {resp.text[:120]}")
                return
            resp.success()
            if self.ack_log:
                with open(self.ack_log, "a", encoding="utf-8") as fh:
                    fh.write(f"{device_id} {signal_id} {resp.status_code} {'true' if duplicate else 'false'}\n")
