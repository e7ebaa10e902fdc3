"""Health, readiness, metrics names, config logging, auth and sessions, signal ingestion, approvals."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest


pytestmark = pytest.mark.platform

CONTRACT_METRICS = {
    "request_duration_seconds": "histogram", "http_requests_total": "counter", "errors_total": "counter",
    "db_connection_pool_size": "gauge", "db_connection_pool_in_use": "gauge", "db_connection_pool_max": "gauge",
    "db_connection_pool_waiting": "gauge", "db_query_duration_seconds": "histogram", "redis_connected": "gauge",
    "auth_login_total": "counter", "ea_errors_total": "counter", "approvals_total": "counter",
    "ratelimit_block_total": "counter", "signals_ingested_total": "counter", "webhook_events_total": "counter",
}


def test_health_ready_metrics(h, client, backend):
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 200 and r.json()["checks"] == {"postgres": "ok", "redis": "ok", "migrations": "ok"}
    client.get("/api/v1/approvals?status=pending")
    client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "nope"})
    client.get("/api/v1/signals", headers={"Authorization": "Bearer x"})
    text = client.get("/metrics").text
    for name, kind in CONTRACT_METRICS.items():
        assert f"# TYPE {name} {kind}" in text, name
    assert h.parse_metric(text, "db_connection_pool_max") == 10
    assert 'request_duration_seconds_bucket{le="0.05",method="GET",route="/approvals"}' in text
    assert 'request_duration_seconds_bucket{le="10.0",method="GET",route="/approvals"}' in text
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in text
    assert "/metrics" not in "".join(l for l in text.splitlines() if l.startswith("http_requests_total"))
    assert h.parse_metric(text, "redis_connected") == 1.0
    assert h.parse_metric(text, "db_query_duration_seconds_count", {"query_type": "select"}) > 0


def test_config_logged_with_source(h, backend):
    logs = backend.logs()
    assert "config key=DB_POOL_SIZE value=10 source=backend/.env" in logs
    assert "config key=RATE_LIMIT_PER_MINUTE value=1000000 source=backend/.env" in logs
    assert "config key=DATABASE_URL value=postgresql://postgres:***@" in logs and "source=env" in logs
    assert "whsec_alertdrill_test" not in logs  # secrets are masked


def test_engine_connect_one_liner(h, backend, pg):
    import subprocess, sys
    out = subprocess.run(
        [sys.executable, "-c", "from backend.app.core.db import engine; print(engine.connect())"],
        cwd=backend.cwd, env={**backend.env}, capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert "psycopg.Connection" in out.stdout and "trading_signals" in out.stdout


def test_login_and_401s(h, client, backend):
    before_ok = backend.metric("auth_login_total", {"result": "success"})
    before_bad = backend.metric("auth_login_total", {"result": "failure"})
    r = client.post("/api/v1/auth/login", json={"email": "trader@example.com", "password": "wrong"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid credentials"
    r = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x"})
    assert r.status_code == 401
    token = h.login(client)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sid"] and claims["sub"] == "user-demo-trader"
    assert backend.metric("auth_login_total", {"result": "success"}) == before_ok + 1
    assert backend.metric("auth_login_total", {"result": "failure"}) == before_bad + 2
    ok = client.get("/api/v1/signals", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    for hdr in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic abc"},
                {"Authorization": "Bearer " + jwt.encode({"sub": "user-demo-trader", "sid": claims["sid"],
                                                         "exp": int(time.time()) + 60}, "wrong-secret")}):
        r = client.get("/api/v1/signals", headers=hdr)
        assert r.status_code == 401 and "detail" in r.json()
    # expired token (signed with the real secret)
    expired = jwt.encode({"sub": "user-demo-trader", "sid": claims["sid"], "exp": int(time.time()) - 5},
                         "alertdrill-dev-jwt-secret-change-me")
    r = client.get("/api/v1/signals", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and r.json()["detail"] == "token expired"
    # valid JWT, unknown session
    ghost = jwt.encode({"sub": "user-demo-trader", "sid": "nope", "exp": int(time.time()) + 60},
                       "alertdrill-dev-jwt-secret-change-me")
    r = client.get("/api/v1/signals", headers={"Authorization": f"Bearer {ghost}"})
    assert r.status_code == 401 and "session" in r.json()["detail"]
    # logout kills the session
    assert client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/api/v1/signals", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_session_ttl_in_redis(h, client, redis_alive):
    token = h.login(client)
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    r = redis_alive.client()
    assert r.get(f"session:{sid}") == "user-demo-trader"
    assert 3500 < r.ttl(f"session:{sid}") <= 3600


def test_redis_down_sessions_503_ingest_survives(h, client, backend, redis_server, pg_conn):
    token = h.login(client)
    hdr = {"Authorization": f"Bearer {token}"}
    redis_server.stop()
    try:
        r = client.get("/api/v1/signals", headers=hdr)
        assert r.status_code == 503 and r.json() == {"detail": "session store unavailable"}
        r = client.post("/api/v1/auth/login", json={"email": "trader@example.com", "password": "trader-password"})
        assert r.status_code == 503
        # ingestion does not need Redis
        ref = f"redis-down-{uuid.uuid4().hex}"
        r = client.post("/api/v1/signals", headers=h.SIGNAL_KEY, json={
            "instrument": "GBPUSD", "side": "sell", "price": 1.27, "quality": 0.5, "source": "gen", "client_ref": ref})
        assert r.status_code == 201, r.text
        # /ready names the failed dependency; redis_connected drops to 0
        r = client.get("/ready")
        assert r.status_code == 503 and r.json()["failed"] == ["redis"]
        deadline = time.time() + 5
        while backend.metric("redis_connected") != 0.0 and time.time() < deadline:
            time.sleep(0.2)
        assert backend.metric("redis_connected") == 0.0
        assert backend.metric("auth_login_total", {"result": "error"}) >= 1
    finally:
        redis_server.start()
    deadline = time.time() + 10
    while backend.metric("redis_connected") != 1.0 and time.time() < deadline:
        time.sleep(0.2)
    assert backend.metric("redis_connected") == 1.0
    # sessions were in Redis (not persisted): the old token is now an unknown session; a new login works
    assert client.get("/api/v1/signals", headers=hdr).status_code == 401
    assert client.get("/api/v1/signals", headers={"Authorization": f"Bearer {h.login(client)}"}).status_code == 200
    assert "auth session store unavailable" in backend.logs()


def test_ingest_idempotent(h, client, backend, pg_conn):
    before = backend.metric("signals_ingested_total")
    ref = f"idem-{uuid.uuid4().hex}"
    body = {"instrument": "XAUUSD", "side": "buy", "price": 2350.5, "quality": 0.91, "source": "momentum",
            "client_ref": ref}
    r1 = client.post("/api/v1/signals", json=body, headers=h.SIGNAL_KEY)
    assert r1.status_code == 201
    r2 = client.post("/api/v1/signals", json=body, headers=h.SIGNAL_KEY)
    assert r2.status_code == 200 and r2.json()["id"] == r1.json()["id"]
    assert pg_conn.execute("SELECT count(*) FROM signals WHERE client_ref = %s", (ref,)).fetchone()[0] == 1
    assert backend.metric("signals_ingested_total") == before + 1
    assert f"signal ingested signal_source=momentum id={r1.json()['id']}" in backend.logs()
    # wrong / missing API key
    assert client.post("/api/v1/signals", json=body).status_code == 401
    assert client.post("/api/v1/signals", json=body, headers={"X-API-Key": "nope"}).status_code == 401
    # dashboard list, newest first
    token = h.login(client)
    h.new_signal(client)
    rows = client.get("/api/v1/signals?limit=2", headers={"Authorization": f"Bearer {token}"}).json()["signals"]
    assert len(rows) == 2 and rows[0]["id"] > rows[1]["id"]


def test_runbook_sql(h, client, auth, pg_conn):
    s1, s2 = h.new_signal(client, instrument="USDJPY", side="sell"), h.new_signal(client, instrument="USDJPY", side="sell")
    assert client.post(f"/api/v1/approvals/{s1['id']}", json={"decision": 1}, headers=auth).status_code == 201
    assert client.post(f"/api/v1/approvals/{s2['id']}", json={"decision": 0}, headers=auth).status_code == 201
    rows = pg_conn.execute("""
       SELECT s.instrument, s.side,
              COUNT(*) as total,
              SUM(CASE WHEN a.decision = 1 THEN 1 ELSE 0 END) as approved,
              SUM(CASE WHEN a.decision = 0 THEN 1 ELSE 0 END) as rejected
       FROM signals s
       LEFT JOIN approvals a ON s.id = a.signal_id
       WHERE s.created_at > NOW() - INTERVAL '1 hour'
       GROUP BY s.instrument, s.side
       ORDER BY rejected DESC""").fetchall()
    usdjpy = [r for r in rows if r[0] == "USDJPY" and r[1] == "sell"][0]
    assert usdjpy[3] >= 1 and usdjpy[4] >= 1
    cnt, mx = pg_conn.execute(
        "SELECT COUNT(*), MAX(created_at) FROM signals WHERE created_at > NOW() - INTERVAL '10 minutes'").fetchone()
    assert cnt >= 2 and mx is not None
    pg_conn.execute("SELECT * FROM approvals ORDER BY created_at DESC LIMIT 10").fetchall()
    pg_conn.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'").fetchone()
    pg_conn.execute("SELECT pg_size_pretty(pg_database_size('trading_signals'))").fetchone()


def test_approvals(h, client, backend, auth):
    s = h.new_signal(client)
    pending = client.get("/api/v1/approvals?status=pending").json()
    assert s["id"] in [a["id"] for a in pending["approvals"]]
    before = backend.metric("approvals_total", {"result": "approved"})
    r = client.post(f"/api/v1/approvals/{s['id']}", json={"decision": 1}, headers=auth)
    assert r.status_code == 201 and r.json()["decision"] == 1
    assert backend.metric("approvals_total", {"result": "approved"}) == before + 1
    r = client.post(f"/api/v1/approvals/{s['id']}", json={"decision": 0}, headers=auth)
    assert r.status_code == 409
    assert backend.metric("approvals_total", {"result": "approved"}) == before + 1
    assert s["id"] not in [a["id"] for a in client.get("/api/v1/approvals?status=pending").json()["approvals"]]
    assert s["id"] in [a["id"] for a in client.get("/api/v1/approvals?status=approved").json()["approvals"]]
    assert client.post("/api/v1/approvals/999999999", json={"decision": 1}, headers=auth).status_code == 404
    assert client.post(f"/api/v1/approvals/{s['id']}", json={"decision": 1}).status_code == 401
    for bad in ({"decision": 2}, {"decision": "yes"}, {}, {"decision": None}):
        assert client.post(f"/api/v1/approvals/{s['id']}", json=bad, headers=auth).status_code == 422
    assert client.post("/api/v1/approvals/abc", json={"decision": 1}, headers=auth).status_code == 422
    assert client.post(f"/api/v1/approvals/{2**70}", json={"decision": 1}, headers=auth).status_code == 422
    assert client.get("/api/v1/approvals?status=bogus").status_code == 422
