"""Rate limit + denylist, pool exhaustion, .env change + restart, the RELEASE switch, circuit breaker,
and bad input (always a clear 4xx, never a 500 or a partial write)."""
from __future__ import annotations

import concurrent.futures as cf
import json
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from servers import wait_for

pytestmark = pytest.mark.platform

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "stack"


def avoid_minute_boundary(margin: float = 4.0) -> None:
    """Rate-limit windows are epoch minutes: don't straddle one mid-test."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.2)


def loopback(n: int | None = None) -> str:
    """A loopback address of its own for one simulated client (bound as the connection's source)."""
    n = uuid.uuid4().int % 60000 if n is None else n
    return f"127.{10 + n // 65536 % 200}.{n // 256 % 256}.{n % 254 + 1}"


def test_rate_limit_env_restart_and_precedence(h, make_backend, redis_alive):
    b = make_backend(dotenv={"RATE_LIMIT_PER_MINUTE": "5"})
    assert "config key=RATE_LIMIT_PER_MINUTE value=5 source=backend/.env" in b.logs()
    ip = loopback()
    avoid_minute_boundary()
    with h.client_from(b.url, ip) as c, h.client_from(b.url, loopback()) as other:
        # X-Forwarded-For from an untrusted peer changes nothing: rotating it does not escape the limit
        codes = [c.get("/api/v1/approvals", headers={"X-Forwarded-For": f"198.18.0.{i + 1}"}).status_code
                 for i in range(7)]
        assert codes == [200] * 5 + [429] * 2
        r = c.get("/api/v1/approvals")
        assert r.status_code == 429 and r.json()["detail"] == "rate limit exceeded"
        # per route and per address
        assert c.get("/api/v1/market/EURUSD").status_code == 200
        assert other.get("/api/v1/approvals").status_code == 200
        assert b.metric("ratelimit_block_total", {"route": "/approvals"}) == 3
        assert b.metric("errors_total", {"endpoint": "/approvals"}) == 0
        minute = int(time.time() // 60)
        assert int(redis_alive.client().get(f"rl:{ip}:/approvals:{minute}")) == 8
        assert 0 < redis_alive.client().ttl(f"rl:{ip}:/approvals:{minute}") <= 60
    assert f"WARNING rate_limit ip={ip} route=/approvals" in b.logs()
    assert "ip=198.18.0." not in b.logs()  # nobody was framed
    # the runbook remedy: edit backend/.env, restart backend
    b.edit_env({"RATE_LIMIT_PER_MINUTE": "50"})
    b.restart()
    assert "config key=RATE_LIMIT_PER_MINUTE value=50 source=backend/.env" in b.logs()
    with h.client_from(b.url, ip) as c:
        assert c.get("/api/v1/approvals").status_code == 200
    # the environment wins over backend/.env
    b2 = make_backend(dotenv={"RATE_LIMIT_PER_MINUTE": "5"}, env={"RATE_LIMIT_PER_MINUTE": "2"})
    assert "config key=RATE_LIMIT_PER_MINUTE value=2 source=env" in b2.logs()
    with h.client_from(b2.url, loopback()) as c:
        codes = [c.get("/api/v1/approvals").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_signal_producer_is_counted_by_its_key_on_its_own_budget(h, make_backend, redis_alive):
    """After an ingestion outage the signal generator sends its backlog at once. Counted by its address,
    that backlog used up the minute and its live signals were refused (429) until the next one, long
    enough for SignalIngestionStopped at drill speed. Counted by its key, on a budget of its own, it
    neither uses up its address's minute nor escapes a limit of its own."""
    b = make_backend(dotenv={"RATE_LIMIT_PER_MINUTE": "2", "SIGNAL_RATE_LIMIT_PER_MINUTE": "4"})
    ip = loopback()
    avoid_minute_boundary()
    minute = int(time.time() // 60)
    redis_alive.client().delete(f"rl:signal-producer:/signals:{minute}")  # the shared Redis: other tests' signals
    with h.client_from(b.url, ip) as c:
        def post(headers):
            return c.post("/api/v1/signals", headers=headers, json={
                "instrument": "EURUSD", "side": "buy", "price": 1.1, "quality": 0.8, "source": "test-gen",
                "client_ref": f"ref-{uuid.uuid4().hex}"}).status_code

        assert [post(h.SIGNAL_KEY) for _ in range(5)] == [201] * 4 + [429]
        # the same address and route without the key: an ordinary client, with its budget untouched
        assert [post({}) for _ in range(3)] == [401, 401, 429]
        # a wrong key does not make a producer: the address's budget is used up
        assert post({"X-API-Key": "not-the-key"}) == 429
    assert int(redis_alive.client().get(f"rl:signal-producer:/signals:{minute}")) == 5
    assert f"WARNING rate_limit ip={ip} route=/signals client=signal-producer" in b.logs()
    assert "config key=SIGNAL_RATE_LIMIT_PER_MINUTE value=4 source=backend/.env" in b.logs()


def test_rate_limiter_fails_open_without_redis(h, make_backend, redis_server):
    b = make_backend(dotenv={"RATE_LIMIT_PER_MINUTE": "2"})
    redis_server.stop()
    try:
        with h.client_from(b.url, loopback()) as c:
            codes = [c.get("/api/v1/approvals").status_code for _ in range(5)]
        assert codes == [200] * 5
        assert "rate_limit failing open" in b.logs()
    finally:
        redis_server.start()


def test_denylist_edit_without_restart(h, client, backend):
    bad = loopback()
    with h.client_from(backend.url, bad) as c, h.client_from(backend.url, loopback()) as other:
        assert c.get("/api/v1/approvals").status_code == 200
        backend.denylist.write_text(backend.denylist.read_text() + f"{bad}  # scraper, ticket 42\n")
        r = wait_for(lambda: (x := c.get("/api/v1/approvals")).status_code == 403 and x, 3)
        assert r and r.json() == {"detail": "address blocked"}
        # blocked before auth / signatures / rate limiting, on every API route; a forwarded-for header
        # naming someone else (put before or after) does not get the blocked peer through
        assert c.post("/api/v1/auth/login", json={}).status_code == 403
        for xff in ("192.0.2.1", f"192.0.2.1, {bad}", f"{bad}, 192.0.2.1"):
            assert c.get("/api/v1/approvals", headers={"X-Forwarded-For": xff}).status_code == 403
        assert other.get("/api/v1/approvals").status_code == 200
        # ... nor can anyone else be framed: a blocked address in a header blocks nobody
        assert other.get("/api/v1/approvals", headers={"X-Forwarded-For": bad}).status_code == 200
        assert c.get("/health").status_code == 200  # probes unaffected
        backend.denylist.write_text("# emptied\n")
        assert wait_for(lambda: c.get("/api/v1/approvals").status_code == 200, 3)
    assert f"denylist blocked ip={bad}" in backend.logs()


def test_denylist_networks_and_canonical_form(h, client, backend):
    a = loopback()
    net = a.rsplit(".", 1)[0] + ".0/24"
    with h.client_from(backend.url, a) as ca:
        backend.denylist.write_text(f"not-an-address\n{net}\n")
        assert wait_for(lambda: ca.get("/api/v1/approvals").status_code == 403, 3)
    assert "denylist entry ignored not an address or network" in backend.logs()
    backend.denylist.write_text("# emptied\n")
    with h.client_from(backend.url, a) as ca:
        assert wait_for(lambda: ca.get("/api/v1/approvals").status_code == 200, 3)


def test_trusted_proxies_forwarded_for(h, make_backend, redis_alive):
    """TRUSTED_PROXIES: X-Forwarded-For honoured only from those peers, read right to left."""
    proxy = loopback()
    be = make_backend(dotenv={"RATE_LIMIT_PER_MINUTE": "3", "TRUSTED_PROXIES": f"{proxy}, 127.200.0.0/16, junk"})
    avoid_minute_boundary()
    client_a, direct_ip = f"203.0.113.{uuid.uuid4().int % 200 + 1}", loopback()
    with h.client_from(be.url, proxy) as via_proxy, h.client_from(be.url, direct_ip) as direct:
        # behind the proxy each client has its own budget, named by the proxy's appended hop
        codes = [via_proxy.get("/api/v1/market/EURUSD", headers={"X-Forwarded-For": client_a}).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # whatever the client put to the left of the proxy's hop is ignored (no escape, no framing)
        assert via_proxy.get("/api/v1/market/EURUSD", headers={"X-Forwarded-For": f"198.51.100.9, {client_a}"}
                             ).status_code == 429
        # a chain of trusted proxies is walked through; a malformed hop stops at the proxy before it
        assert via_proxy.get("/api/v1/market/EURUSD", headers={"X-Forwarded-For": f"{client_a}, 127.200.1.1"}
                             ).status_code == 429
        assert via_proxy.get("/api/v1/approvals", headers={"X-Forwarded-For": "not-an-ip"}).status_code == 200
        # a peer that is not a trusted proxy: the header is ignored, the peer is the client
        codes = [direct.get("/api/v1/market/EURUSD", headers={"X-Forwarded-For": f"198.18.5.{i}"}).status_code
                 for i in range(4)]
        assert codes == [200, 200, 200, 429]
    logs = be.logs()
    assert "config TRUSTED_PROXIES entry ignored not an address or network entry=junk" in logs
    assert f"rate_limit ip={client_a} route=/market/{{instrument}}" in logs
    assert f"rate_limit ip={direct_ip} route=/market/{{instrument}}" in logs
    assert "ip=198.51.100.9" not in logs and "ip=198.18.5." not in logs


def test_pool_exhaustion(h, backend, auth, pg, redis_alive):
    """LOCK TABLE signals: the backend's queries wait holding their pool connections -> 100 %, waiters -> 503."""
    lock = psycopg.connect(pg.url)
    lock.execute("LOCK TABLE signals IN ACCESS EXCLUSIVE MODE")
    n = 14  # DB_POOL_SIZE=10 + 4 that must queue
    try:
        def call():
            with httpx.Client(base_url=backend.url, timeout=30) as c:
                t0 = time.time()
                r = c.get("/api/v1/signals?limit=5", headers=auth)
                return r.status_code, time.time() - t0, r.json()
        with cf.ThreadPoolExecutor(n) as ex:
            futs = [ex.submit(call) for _ in range(n)]
            assert wait_for(lambda: backend.metric("db_connection_pool_size") == 100.0, 5), "pool never full"
            assert backend.metric("db_connection_pool_in_use") == 10
            assert backend.metric("db_connection_pool_waiting") >= 1
            with psycopg.connect(pg.url, autocommit=True) as c:
                waiting = c.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                                    " AND wait_event_type = 'Lock' AND query LIKE '%%SELECT id, instrument%%'"
                                    ).fetchone()[0]
            assert waiting == 10
            # the queued requests give up after DB_POOL_TIMEOUT (2 s) with 503
            time.sleep(2.6)
            lock.rollback()
            results = [f.result() for f in futs]
    finally:
        lock.close()
    codes = sorted(r[0] for r in results)
    assert codes == [200] * 10 + [503] * 4, codes
    assert all(r[1] >= 2.0 for r in results)  # every request really waited
    assert {r[2]["detail"] for r in results if r[0] == 503} == {"database connection pool exhausted"}
    assert wait_for(lambda: backend.metric("db_connection_pool_size") == 0.0, 3)
    assert backend.metric("errors_total", {"endpoint": "/signals", "status": "503"}) >= 4
    logs = backend.logs()
    assert "ERROR database connection pool exhausted route=/api/v1/signals" in logs
    assert backend.metric("db_query_duration_seconds_bucket", {"query_type": "select", "le": "2.5"}) < \
        backend.metric("db_query_duration_seconds_count", {"query_type": "select"})


def test_release_bad_build_and_rollback(h, make_backend, redis_alive):
    b = make_backend(dotenv={"RELEASE": "1.5.0-rc1"})
    with httpx.Client(base_url=b.url, timeout=10) as c:
        hdr = {"Authorization": f"Bearer {h.login(c)}"}
        for _ in range(3):
            r = c.get("/api/v1/signals", headers=hdr)
            assert r.status_code == 500 and r.json() == {"detail": "internal server error"}
        assert c.get("/api/v1/approvals").status_code == 200  # only the one endpoint is broken
    assert b.metric("errors_total", {"endpoint": "/signals", "status": "500"}) == 3
    logs = b.logs()
    err = [l for l in logs.splitlines() if " ERROR " in l and "/api/v1/signals" in l]
    assert err and "database query failed" in err[0] and "UndefinedColumn" in err[0] and "risk_score" in err[0]
    assert "Traceback" not in logs
    b.edit_env({"RELEASE": "1.4.2"})  # roll back
    b.restart()
    with httpx.Client(base_url=b.url, timeout=10) as c:
        assert c.get("/api/v1/signals", headers={"Authorization": f"Bearer {h.login(c)}"}).status_code == 200


def test_vendor_slow_without_breaker(h, client, backend, vendor):
    try:
        r = client.get("/api/v1/market/EURUSD")
        assert r.status_code == 200 and r.json()["cached"] is False and r.json()["quote"]["symbol"] == "EURUSD"
        vendor.delay = 1.2
        t0 = time.time()
        r = client.get("/api/v1/market/EURUSD")
        assert r.status_code == 200 and time.time() - t0 >= 1.2  # a slow vendor really makes the route slow
        line = [l for l in backend.logs().splitlines() if "external_api call" in l][-1]
        assert "duration_ms=" in line and float(line.split("duration_ms=")[1].split()[0]) >= 1200
        assert client.get("/api/v1/market/NOPE$").status_code == 422
    finally:
        vendor.reset()


def test_circuit_breaker_serves_cache(h, make_backend, vendor, redis_alive):
    b = make_backend(dotenv={"CIRCUIT_BREAKER_ENABLED": "true", "CIRCUIT_BREAKER_CALL_TIMEOUT": "0.4",
                             "CIRCUIT_BREAKER_RESET_SECONDS": "2"})
    inst = "CB" + uuid.uuid4().hex[:6].upper()
    try:
        with httpx.Client(base_url=b.url, timeout=10) as c:
            assert c.get(f"/api/v1/market/{inst}").json()["cached"] is False
            assert 3500 < redis_alive.client().ttl(f"cache:quote:{inst}") <= 3600
            vendor.delay = 2.0
            for _ in range(3):  # 3 consecutive timeouts open the breaker; each is answered from cache
                t0 = time.time()
                r = c.get(f"/api/v1/market/{inst}")
                assert r.status_code == 200 and r.json()["cached"] is True and time.time() - t0 < 1.0
            assert b.metric("circuit_breaker_open") == 1.0
            calls = vendor.calls
            t0 = time.time()
            r = c.get(f"/api/v1/market/{inst}")
            assert r.json()["cached"] is True and r.json()["reason"] == "circuit_open"
            assert time.time() - t0 < 0.2 and vendor.calls == calls  # vendor not even called
            assert c.get("/api/v1/market/NEVERSEEN").status_code == 503  # open + nothing cached
            vendor.delay = 0.0
            time.sleep(2.1)  # reset window over: a half-open trial call succeeds and closes it
            r = c.get(f"/api/v1/market/{inst}")
            assert r.json()["cached"] is False
            assert b.metric("circuit_breaker_open") == 0.0
    finally:
        vendor.reset()
    assert "external_api circuit_breaker open" in b.logs()


def test_bad_input_is_4xx_never_500(h, client, backend, auth, pg_conn):
    before_rows = pg_conn.execute("SELECT count(*) FROM signals").fetchone()[0]
    before_5xx = sum(backend.metric("errors_total", {"endpoint": e, "status": "500"})
                     for e in ("/signals", "/auth/login", "/billing/webhook", "/ea/ack", "/approvals/{signal_id}"))
    good = {"instrument": "EURUSD", "side": "buy", "price": 1.1, "quality": 0.5, "source": "s", "client_ref": "x"}
    key = h.SIGNAL_KEY
    bads = [
        ("POST", "/api/v1/signals", {"content": b"{not json", "headers": {**key, "Content-Type": "application/json"}}),
        ("POST", "/api/v1/signals", {"json": {k: v for k, v in good.items() if k != "price"}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": {**good, "price": "abc"}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": {**good, "price": 0}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": {**good, "price": -3}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": {**good, "quality": 1.5}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": {**good, "side": "hold"}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": {**good, "instrument": "X" * 21}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": {**good, "instrument": ""}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": {**good, "client_ref": None}, "headers": key}),
        ("POST", "/api/v1/signals", {"json": [good], "headers": key}),
        ("POST", "/api/v1/signals", {"content": b'{"price": 1e999}', "headers": {**key, "Content-Type": "application/json"}}),
        ("POST", "/api/v1/auth/login", {"content": b"nope", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/api/v1/auth/login", {"json": {"email": 5}}),
        ("POST", "/api/v1/approvals/1", {"content": b"[", "headers": {**auth, "Content-Type": "application/json"}}),
        ("GET", "/api/v1/signals?limit=abc", {"headers": auth}),
        ("GET", "/api/v1/signals?limit=100000", {"headers": auth}),
        ("POST", "/api/v1/ea/ack", {"content": b"{}"}),
        ("GET", "/api/v1/devices?status=weird", {"headers": auth}),
        ("GET", "/api/v1/market/" + "A" * 30, {}),
    ]
    for method, path, kw in bads:
        r = client.request(method, path, **kw)
        assert 400 <= r.status_code < 500, (path, kw, r.status_code, r.text)
        assert "detail" in r.json(), (path, r.text)
    # oversize bodies: declared and chunked (no Content-Length)
    big = json.dumps({**good, "source": "x" * 70000}).encode()
    r = client.post("/api/v1/signals", content=big, headers={**key, "Content-Type": "application/json"})
    assert r.status_code == 413 and "detail" in r.json()
    r = client.post("/api/v1/billing/webhook", content=(big[i:i + 8192] for i in range(0, len(big), 8192)),
                    headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"})
    assert r.status_code == 413
    r = client.get("/api/v1/nowhere")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    assert client.delete("/api/v1/signals").status_code == 405
    assert pg_conn.execute("SELECT count(*) FROM signals").fetchone()[0] == before_rows  # no partial writes
    after_5xx = sum(backend.metric("errors_total", {"endpoint": e, "status": "500"})
                    for e in ("/signals", "/auth/login", "/billing/webhook", "/ea/ack", "/approvals/{signal_id}"))
    assert after_5xx == before_5xx
    assert "Traceback" not in backend.logs()


def test_runbook_denylist_commands_pass_the_address_safely(h, backend, tmp_path):
    """The runbook's denylist commands, run as written (bash, ABUSIVE_IP in the environment) with
    `docker exec backend` standing for the backend's working directory: the address is validated by
    denylist-add and never re-parsed by a shell."""
    import subprocess

    from alertdrill.runbook.parse import parse_runbook

    rb = parse_runbook(REPO / "docs" / "runbook.md")
    commands = [c for alert in ("HighRateLimitRejections", "PaymentWebhookFailures", "EAPollErrors")
                for c in rb.section(alert).remediation_commands if "denylist" in c]
    assert len(commands) == 3, commands
    tool = STACK / "backend" / "bin" / "denylist-add"
    marker = tmp_path / "pwned"
    for cmd in commands:
        assert cmd.startswith('docker exec backend denylist-add "${ABUSIVE_IP:?') and "sh -c" not in cmd, cmd
        local = cmd.replace("docker exec backend denylist-add", str(tool), 1)

        def run(value: str) -> subprocess.CompletedProcess:
            return subprocess.run(["bash", "-c", local], cwd=backend.cwd, capture_output=True, text=True, timeout=30,
                                  env={**backend.env, "ABUSIVE_IP": value})

        before = backend.denylist.read_text()
        for evil in (f"1.2.3.4; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", "1.2.3.4\n5.6.7.8",
                     "-rf", "", "203.0.113.7 #"):
            r = run(evil)
            assert r.returncode != 0, (evil, r.stdout, r.stderr)
            assert backend.denylist.read_text() == before and not marker.exists(), evil
        r = run("ip=127.0.0.77")  # as copied from a log line
        assert r.returncode == 0, r.stderr
        assert backend.denylist.read_text().splitlines()[-1] == "127.0.0.77"
        assert run("127.0.0.77").returncode == 0
        assert backend.denylist.read_text().count("127.0.0.77") == 1  # not added twice
    with h.client_from(backend.url, "127.0.0.77") as c:
        assert wait_for(lambda: c.get("/api/v1/approvals").status_code == 403, 3)
    backend.denylist.write_text("# emptied\n")
