"""Stripe webhook verification + idempotency, device registry and HMAC-signed EA poll/ack."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
import uuid

import pytest

pytestmark = pytest.mark.platform

WHSEC = "whsec_alertdrill_test"


def stripe_sig(payload: str, secret: str = WHSEC, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def checkout_event(event_id: str | None = None, amount: int = 4900) -> str:
    return json.dumps({
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_test_1", "object": "checkout.session", "customer": "cus_123",
                            "amount_total": amount}},
    })


def post_webhook(client, payload: str, sig: str | None):
    headers = {"Content-Type": "application/json"}
    if sig is not None:
        headers["Stripe-Signature"] = sig
    return client.post("/api/v1/billing/webhook", content=payload, headers=headers)


def test_webhook_valid_replay_invalid(h, client, backend, redis_alive, pg_conn):
    m = lambda o: backend.metric("webhook_events_total", {"outcome": o})
    base = {o: m(o) for o in ("processed", "replay_attack", "invalid_signature")}
    payload = checkout_event()
    event_id = json.loads(payload)["id"]
    r = post_webhook(client, payload, stripe_sig(payload))
    assert r.status_code == 200 and r.json()["status"] == "processed", r.text
    assert pg_conn.execute("SELECT customer, amount FROM payments WHERE event_id = %s", (event_id,)).fetchall() == [
        ("cus_123", 4900)]
    ttl = redis_alive.client().ttl(f"idempotent:{event_id}")
    assert 86000 < ttl <= 86400
    # replay (fresh signature, same event id)
    r = post_webhook(client, payload, stripe_sig(payload))
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert pg_conn.execute("SELECT count(*) FROM payments WHERE event_id = %s", (event_id,)).fetchone()[0] == 1
    # invalid: no header (the runbook's curl), wrong secret, tampered body, stale timestamp
    assert post_webhook(client, '{"type":"test"}', None).status_code == 400
    assert post_webhook(client, payload, stripe_sig(payload, "whsec_wrong")).status_code == 400
    assert post_webhook(client, payload.replace("4900", "1"), stripe_sig(payload)).status_code == 400
    assert post_webhook(client, payload, stripe_sig(payload, t=int(time.time()) - 3600)).status_code == 400
    assert post_webhook(client, "not json", stripe_sig("not json")).status_code == 400
    r = post_webhook(client, '{"type":"x"}', "garbage")
    assert r.status_code == 400 and "detail" in r.json()
    assert m("processed") == base["processed"] + 1
    assert m("replay_attack") == base["replay_attack"] + 1
    assert m("invalid_signature") == base["invalid_signature"] + 6
    logs = backend.logs()
    assert f"webhook replay_attack event_id={event_id}" in logs
    assert "webhook invalid_signature reason=missing_header" in logs
    assert backend.metric("errors_total", {"endpoint": "/billing/webhook"}) == 0  # 4xx are not errors


def test_webhook_db_guard_when_redis_lost_key(h, client, redis_alive, pg_conn):
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex[:20]}", "type": "invoice.paid", "data": {"object": {}}})
    eid = json.loads(payload)["id"]
    assert post_webhook(client, payload, stripe_sig(payload)).json()["status"] == "processed"
    redis_alive.client().delete(f"idempotent:{eid}")  # Redis lost the key (flush / failover)
    r = post_webhook(client, payload, stripe_sig(payload))
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert pg_conn.execute("SELECT type FROM webhook_events WHERE event_id = %s", (eid,)).fetchall() == [
        ("invoice.paid",)]


def test_webhook_db_failure_releases_key(h, client, backend, redis_alive, pg_conn):
    """DB write fails -> 5xx and the idempotency key is released so Stripe's retry is processed."""
    payload = checkout_event()
    eid = json.loads(payload)["id"]
    pg_conn.execute("ALTER TABLE payments ADD CONSTRAINT drill_block CHECK (amount < 0) NOT VALID")
    try:
        r = post_webhook(client, payload, stripe_sig(payload))
        assert r.status_code == 503
        assert redis_alive.client().exists(f"idempotent:{eid}") == 0
        assert pg_conn.execute("SELECT count(*) FROM webhook_events WHERE event_id = %s", (eid,)).fetchone()[0] == 0
    finally:
        pg_conn.execute("ALTER TABLE payments DROP CONSTRAINT drill_block")
    r = post_webhook(client, payload, stripe_sig(payload))
    assert r.status_code == 200 and r.json()["status"] == "processed"
    assert backend.metric("webhook_events_total", {"outcome": "error"}) >= 1
    assert backend.metric("errors_total", {"endpoint": "/billing/webhook", "status": "503"}) >= 1


# ------------------------------------------------------------------ EA
def sign(secret: str, method: str, path: str, body: str = "", ts: int | None = None, nonce: str | None = None):
    ts = int(time.time()) if ts is None else ts
    nonce = nonce or secrets.token_hex(8)
    mac = hmac.new(secret.encode(), f"{method}\n{path}\n{ts}\n{nonce}\n{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Timestamp": str(ts), "X-Nonce": nonce, "X-Signature": mac}


@pytest.fixture
def device(client, auth):
    r = client.post("/api/v1/devices", headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def poll(client, dev, **kw):
    hdr = {"X-Device-Id": dev["device_id"], **sign(dev["secret"], "GET", "/api/v1/ea/poll", **kw)}
    return client.get("/api/v1/ea/poll", headers=hdr)


def ack(client, dev, signal_id, **kw):
    body = json.dumps({"signal_id": signal_id})
    hdr = {"X-Device-Id": dev["device_id"], "Content-Type": "application/json",
           **sign(dev["secret"], "POST", "/api/v1/ea/ack", body, **kw)}
    return client.post("/api/v1/ea/ack", content=body, headers=hdr)


def test_device_registry(h, client, auth, device, pg_conn):
    assert len(device["secret"]) == 64
    active = client.get("/api/v1/devices?status=active", headers=auth).json()["devices"]
    row = [d for d in active if d["device_id"] == device["device_id"]][0]
    assert "secret" not in row and row["user_id"] == "user-demo-trader"
    assert pg_conn.execute("SELECT device_id, created_at FROM devices WHERE user_id = 'user-demo-trader'").fetchall()
    assert client.post("/api/v1/devices").status_code == 401
    assert client.post("/api/v1/devices/dev_nope/revoke", headers=auth).status_code == 404


def test_ea_poll_ack_exactly_once(h, client, backend, device, pg_conn):
    s = h.new_signal(client)
    r = poll(client, device)
    assert r.status_code == 200, r.text
    assert s["id"] in [x["id"] for x in r.json()["signals"]]
    r = ack(client, device, s["id"])
    assert r.status_code == 200 and r.json()["duplicate"] is False
    r = ack(client, device, s["id"])
    assert r.status_code == 200 and r.json()["duplicate"] is True
    assert pg_conn.execute("SELECT count(*) FROM ea_acks WHERE device_id = %s AND signal_id = %s",
                           (device["device_id"], s["id"])).fetchone()[0] == 1
    assert s["id"] not in [x["id"] for x in poll(client, device).json()["signals"]]
    assert ack(client, device, 10**12).status_code == 404
    # signals older than the device are not delivered
    old = pg_conn.execute("SELECT min(id) FROM signals").fetchone()[0]
    assert old not in [x["id"] for x in poll(client, device).json()["signals"]] or old == s["id"]


def test_ea_errors(h, client, backend, device, redis_alive):
    m = lambda ep, t: backend.metric("ea_errors_total", {"endpoint": ep, "error_type": t})
    base = {t: m("/ea/poll", t) for t in ("auth_failed", "invalid_signature", "nonce_replay")}
    # bad signature (wrong secret)
    r = poll(client, {**device, "secret": "0" * 64})
    assert r.status_code == 401 and r.json()["error_type"] == "invalid_signature"
    # signature over a different path
    hdr = {"X-Device-Id": device["device_id"], **sign(device["secret"], "GET", "/api/v1/ea/ack")}
    assert client.get("/api/v1/ea/poll", headers=hdr).json()["error_type"] == "invalid_signature"
    # replayed nonce
    nonce = "n" + secrets.token_hex(6)
    assert poll(client, device, nonce=nonce).status_code == 200
    r = poll(client, device, nonce=nonce)
    assert r.status_code == 409 and r.json()["error_type"] == "nonce_replay"
    assert 299 <= redis_alive.client().ttl(f"nonce:{device['device_id']}_{nonce}") <= 302  # ts + skew - now
    # stale / future timestamp, unknown device, missing headers
    for r in (poll(client, device, ts=int(time.time()) - 301), poll(client, device, ts=int(time.time()) + 400),
              poll(client, {"device_id": "dev_unknown", "secret": "x"}),
              client.get("/api/v1/ea/poll"),
              client.get("/api/v1/ea/poll", headers={"X-Device-Id": device["device_id"], "X-Timestamp": "abc",
                                                     "X-Nonce": "n1", "X-Signature": "00"})):
        assert r.status_code == 401 and r.json()["error_type"] == "auth_failed", r.text
    assert m("/ea/poll", "invalid_signature") == base["invalid_signature"] + 2
    assert m("/ea/poll", "nonce_replay") == base["nonce_replay"] + 1
    assert m("/ea/poll", "auth_failed") == base["auth_failed"] + 5
    # ack: tampered body
    body = json.dumps({"signal_id": 1})
    hdr = {"X-Device-Id": device["device_id"], **sign(device["secret"], "POST", "/api/v1/ea/ack", body)}
    r = client.post("/api/v1/ea/ack", content=json.dumps({"signal_id": 2}), headers=hdr)
    assert r.status_code == 401 and r.json()["error_type"] == "invalid_signature"
    assert backend.metric("ea_errors_total", {"endpoint": "/ea/ack", "error_type": "invalid_signature"}) >= 1
    # ack: signed but malformed body -> 4xx, not 500
    for bad in ("not json", json.dumps({"signal_id": "x"}), json.dumps([1])):
        hdr = {"X-Device-Id": device["device_id"], **sign(device["secret"], "POST", "/api/v1/ea/ack", bad)}
        assert client.post("/api/v1/ea/ack", content=bad, headers=hdr).status_code in (400, 422)
    logs = backend.logs()
    assert "ea_errors HMAC signature invalid endpoint=/ea/poll" in logs
    assert "ea_errors endpoint=/ea/poll error_type=nonce_replay" in logs
    assert backend.metric("errors_total", {"endpoint": "/ea/poll"}) == 0


def test_device_list_needs_a_session_and_shows_only_the_callers(h, client, auth, device, pg_conn):
    """GET /devices named every device and its owner to anyone: now a session's own devices only."""
    for headers in ({}, {"Authorization": "Bearer nope"}):
        r = client.get("/api/v1/devices?status=all", headers=headers)
        assert r.status_code == 401 and r.json()["detail"] and "devices" not in r.json()
    # a second user with a device of their own (the password hash in the backend's scrypt format)
    other, email, password = f"user-{uuid.uuid4().hex[:8]}", f"{uuid.uuid4().hex[:8]}@example.com", "other-password"
    salt = os.urandom(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=2 ** 14, r=8, p=1, dklen=32)
    pg_conn.execute("INSERT INTO users (id, email, password_hash) VALUES (%s, %s, %s)",
                    (other, email, f"scrypt$16384$8$1${salt.hex()}${dk.hex()}"))
    other_auth = {"Authorization": f"Bearer {h.login(client, email, password)}"}
    theirs = client.post("/api/v1/devices", headers=other_auth).json()["device_id"]

    def listed(headers):
        r = client.get("/api/v1/devices?status=all&limit=1000", headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["devices"]

    mine = listed(auth)
    assert device["device_id"] in {d["device_id"] for d in mine} and theirs not in {d["device_id"] for d in mine}
    assert {d["user_id"] for d in mine} == {"user-demo-trader"}
    assert [(d["device_id"], d["user_id"]) for d in listed(other_auth)] == [(theirs, other)]
    # the old ?user_id= filter names nobody else's devices either
    r = client.get(f"/api/v1/devices?status=all&user_id={other}", headers=auth)
    assert theirs not in {d["device_id"] for d in r.json()["devices"]}


def test_ea_revocation_takes_effect_quickly(h, client, auth, device):
    assert poll(client, device).status_code == 200
    assert client.post(f"/api/v1/devices/{device['device_id']}/revoke", headers=auth).json()["status"] == "revoked"
    t0 = time.time()
    while time.time() - t0 < 3:
        r = poll(client, device)
        if r.status_code == 401:
            break
        time.sleep(0.1)
    assert r.status_code == 401 and r.json()["error_type"] == "auth_failed"
    assert time.time() - t0 < 2.0
    assert device["device_id"] not in [d["device_id"] for d in
                                       client.get("/api/v1/devices?status=active", headers=auth).json()["devices"]]


def test_ea_redis_down_is_timeout(h, client, backend, device, redis_server):
    assert poll(client, device).status_code == 200
    redis_server.stop()
    try:
        r = poll(client, device)
        assert r.status_code == 503 and r.json()["error_type"] == "timeout"
        assert backend.metric("ea_errors_total", {"endpoint": "/ea/poll", "error_type": "timeout"}) >= 1
    finally:
        redis_server.start()


# ------------------------------------------------------------------ exactly once under crashes
def test_webhook_crash_between_key_and_commit_is_retried(h, make_backend, redis_alive, pg, pg_conn):
    """SIGKILL the backend while the payment's transaction is open (the webhook_events row written, the
    payment insert waiting on a lock, nothing committed): the provider's retry stores the payment once.

    (Before: the idempotency key was set in Redis first, so this retry was answered "duplicate" and the
    payment was never stored.)"""
    import signal
    import threading

    import httpx
    import psycopg

    victim = make_backend()
    payload = checkout_event(amount=7100)
    eid = json.loads(payload)["id"]
    locker = psycopg.connect(pg.url)
    locker.execute("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE")  # the commit point cannot be reached
    answer: dict = {}

    def deliver():
        try:
            answer["r"] = httpx.post(victim.url + "/api/v1/billing/webhook", content=payload, timeout=30,
                                     headers={"Content-Type": "application/json", "Stripe-Signature": stripe_sig(payload)})
        except httpx.HTTPError as exc:
            answer["error"] = exc

    t = threading.Thread(target=deliver)
    t.start()
    try:
        # wait until the backend's transaction is blocked on the payments insert
        deadline = time.time() + 20
        while time.time() < deadline and not pg_conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO payments%%'"
        ).fetchone()[0]:
            time.sleep(0.05)
        assert pg_conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                               " AND query LIKE 'INSERT INTO payments%%'").fetchone()[0] == 1
        victim.proc.send_signal(signal.SIGKILL)  # the crash, between "seen" and the commit
        victim.proc.wait(10)
        t.join(30)
        assert "error" in answer  # the provider saw no answer: it will retry
    finally:
        locker.rollback()
        locker.close()
    # The dead client's transaction is rolled back by Postgres; the provider's retry reaches a new process.
    survivor = make_backend()
    r = httpx.post(survivor.url + "/api/v1/billing/webhook", content=payload, timeout=30,
                   headers={"Content-Type": "application/json", "Stripe-Signature": stripe_sig(payload)})
    assert r.status_code == 200 and r.json()["status"] == "processed", r.text
    r = httpx.post(survivor.url + "/api/v1/billing/webhook", content=payload, timeout=30,
                   headers={"Content-Type": "application/json", "Stripe-Signature": stripe_sig(payload)})
    assert r.status_code == 200 and r.json()["status"] == "duplicate", r.text
    assert pg_conn.execute("SELECT customer, amount FROM payments WHERE event_id = %s", (eid,)).fetchall() == [
        ("cus_123", 7100)]
    assert pg_conn.execute("SELECT count(*) FROM webhook_events WHERE event_id = %s", (eid,)).fetchone()[0] == 1


def test_webhook_idempotency_key_only_after_commit(h, client, redis_alive, pg_conn):
    """A failed commit leaves no key (nothing to release): the retry is processed."""
    payload = checkout_event()
    eid = json.loads(payload)["id"]
    pg_conn.execute("ALTER TABLE payments ADD CONSTRAINT drill_block2 CHECK (amount < 0) NOT VALID")
    try:
        assert post_webhook(client, payload, stripe_sig(payload)).status_code == 503
        assert redis_alive.client().exists(f"idempotent:{eid}") == 0
    finally:
        pg_conn.execute("ALTER TABLE payments DROP CONSTRAINT drill_block2")
    assert post_webhook(client, payload, stripe_sig(payload)).json()["status"] == "processed"
    assert redis_alive.client().exists(f"idempotent:{eid}") == 1


# ------------------------------------------------------------------ replay windows
def test_webhook_timestamp_window(h, client, backend):
    """Signed timestamps are accepted within WEBHOOK_TOLERANCE_SECONDS (300) on both sides."""
    now = int(time.time())
    for t, ok in ((now - 250, True), (now + 250, True), (now - 400, False), (now + 400, False),
                  (now + 10 ** 9, False)):
        payload = checkout_event()
        r = post_webhook(client, payload, stripe_sig(payload, t=t))
        assert (r.status_code == 200) is ok, (t - now, r.status_code, r.text)
        if not ok:
            assert r.status_code == 400 and r.json()["detail"].startswith("invalid signature")
    assert "webhook invalid_signature reason=future_timestamp" in backend.logs()


def test_ea_nonce_outlives_the_skew_window(h, client, device, redis_alive):
    """A request stamped up to EA_MAX_SKEW_SECONDS in the future is accepted, and its nonce is kept until
    that timestamp is stale too: it can never be replayed inside the window."""
    now = int(time.time())
    for ts in (now + 290, now - 290, now):
        nonce = "w" + secrets.token_hex(6)
        assert poll(client, device, ts=ts, nonce=nonce).status_code == 200
        ttl = redis_alive.client().ttl(f"nonce:{device['device_id']}_{nonce}")
        # accepted until ts + 300 (checked against the clock): the nonce must live at least that long
        assert ttl >= ts + 300 - time.time(), (ts - now, ttl)
        assert ttl <= 2 * 300 + 2
        r = poll(client, device, ts=ts, nonce=nonce)
        assert r.status_code == 409 and r.json()["error_type"] == "nonce_replay"
