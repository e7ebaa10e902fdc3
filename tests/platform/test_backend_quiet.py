"""Issue "[quiet]": what paged or leaked without a server fault. A client hanging up mid-body, odd Stripe-Signature
and deeply nested bodies were counted as 500s (CriticalErrorRate, PaymentWebhookFailures); IPv4-mapped denylist
networks never matched; client text forged log lines; unknown login emails answered faster; GET /devices was
open to anyone; /ready and unknown paths were never rate-limited."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from servers import wait_for

pytestmark = pytest.mark.platform

STACK = Path(__file__).resolve().parents[2] / "stack"
WHSEC = "whsec_alertdrill_test"
LINE_START = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def loopback() -> str:
    n = uuid.uuid4().int % 60000
    return f"127.{10 + n // 65536 % 200}.{n // 256 % 256}.{n % 254 + 1}"


def stripe_sig(payload: bytes, t: int | None = None, t_text: str | None = None) -> str:
    t = int(time.time()) if t is None else t
    v1 = hmac.new(WHSEC.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t if t_text is None else t_text},v1={v1}"


def ea_headers(device: dict, body: bytes, path: str = "/api/v1/ea/ack", method: str = "POST") -> dict[str, str]:
    ts, nonce = str(int(time.time())), uuid.uuid4().hex
    sig = hmac.new(device["secret"].encode(), f"{method}\n{path}\n{ts}\n{nonce}\n".encode() + body,
                   hashlib.sha256).hexdigest()
    return {"X-Device-Id": device["device_id"], "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": sig,
            "Content-Type": "application/json"}


class Metrics:
    """Samples of the backend's /metrics, summed over the labels not named."""

    def __init__(self, h, backend) -> None:
        self.h, self.backend = h, backend

    def __call__(self, name: str, **labels: str) -> float:
        return self.h.sum_metric(httpx.get(self.backend.url + "/metrics", timeout=5).text, name, labels)


@pytest.fixture
def m(h, backend):
    return Metrics(h, backend)


@pytest.fixture
def device(client, auth):
    r = client.post("/api/v1/devices", headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


# ------------------------------------------------------------------ 1. a client hanging up is not a server fault
def test_hang_up_mid_body_counts_as_a_disconnect_not_an_error(h, client, backend, m, device):
    """Headers with a Content-Length, part of the body, then the client hangs up: on the two routes that read
    the raw body (the webhook before its signature, the EA ack before authenticating) and on one FastAPI parses."""
    cases = [
        ("/billing/webhook", {"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"}),
        ("/ea/ack", {"Content-Type": "application/json"}),
        ("/signals", {"Content-Type": "application/json", **h.SIGNAL_KEY}),
    ]
    errors0, webhook0, ea0 = m("errors_total"), m("webhook_events_total"), m("ea_errors_total")
    for endpoint, headers in cases:
        requests0 = m("http_requests_total", route=endpoint, method="POST")
        disconnects0 = m("client_disconnects_total", endpoint=endpoint, method="POST")
        for _ in range(2):  # "twice a second"
            h.hang_up(backend.port, "POST", "/api/v1" + endpoint, headers, declared=400, body=b'{"id": "evt_')
        assert wait_for(lambda: m("http_requests_total", route=endpoint, method="POST") == requests0 + 2, 5), endpoint
        # nothing for CriticalErrorRate (errors_total) or PaymentWebhookFailures / EAPollErrors to read ...
        assert m("errors_total") == errors0, endpoint
        assert m("webhook_events_total") == webhook0 and m("ea_errors_total") == ea0
        # ... but a metric of their own, and 499 ("client closed request") in http_requests_total
        assert m("client_disconnects_total", endpoint=endpoint, method="POST") == disconnects0 + 2
        assert m("http_requests_total", route=endpoint, method="POST", status="499") >= 2
    logs = backend.logs()
    assert "INFO client disconnected route=/api/v1/billing/webhook method=POST received=12" in logs
    assert "unhandled exception" not in logs and "ClientDisconnect" not in logs
    # the routes still answer a complete request
    assert client.post("/api/v1/ea/ack", content=b"{}").status_code == 401


# ------------------------------------------------------------------ 2. Stripe-Signature parsed once
def test_stripe_signature_with_a_second_equals_sign_is_a_400(client, m):
    """`t=<now>=3,v1=<HMAC over "<now>.">`: stripe's parser reads t=<now> and accepts the signature; the
    backend's own reading of t raised ValueError (a 500). Refused with a reason instead."""
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.paid"}).encode()
    now = int(time.time())
    invalid0, errors0 = m("webhook_events_total", outcome="invalid_signature"), m("errors_total")
    odd = [stripe_sig(payload, now, f"{now}=3"), stripe_sig(payload, now, f"{now}="),
           stripe_sig(payload, now) + f",t={now + 10_000}", stripe_sig(payload, now, f" {now}"),
           stripe_sig(payload, now, f"{now:_}"), stripe_sig(payload, now) + "=x"]
    for sig in odd:
        r = client.post("/api/v1/billing/webhook", content=payload, headers={"Stripe-Signature": sig})
        assert r.status_code == 400, (sig, r.status_code, r.text)
        assert r.json()["detail"].startswith("invalid signature: malformed Stripe-Signature"), r.text
    assert m("webhook_events_total", outcome="invalid_signature") == invalid0 + len(odd)
    assert m("errors_total") == errors0
    # the plain form is still processed
    r = client.post("/api/v1/billing/webhook", content=payload, headers={"Stripe-Signature": stripe_sig(payload)})
    assert r.status_code == 200 and r.json()["status"] == "processed", r.text


# ------------------------------------------------------------------ 3. nesting depth
def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


def test_deeply_nested_bodies_are_a_400_with_a_reason(h, client, auth, m, device):
    """A signed /ea/ack body 5,000 levels deep raised RecursionError (a 500); every JSON body is now bounded
    (64 levels), far below what would reach Python's recursion limit anywhere."""
    errors0 = m("errors_total")
    for depth in (65, 5000):
        body = nested(depth)
        r = client.post("/api/v1/ea/ack", content=body, headers=ea_headers(device, body))
        assert r.status_code == 400 and "nested more than 64 levels" in r.json()["detail"], r.text
        webhook = b'{"id": "evt_x", "type": "invoice.paid", "data": ' + nested(depth, "{}") + b"}"
        r = client.post("/api/v1/billing/webhook", content=webhook, headers={"Stripe-Signature": stripe_sig(webhook)})
        assert r.status_code == 400 and r.json()["detail"] == "invalid payload: JSON nested more than 64 levels deep"
        for path, headers in (("/api/v1/signals", h.SIGNAL_KEY), ("/api/v1/auth/login", {}),
                              ("/api/v1/approvals/1", auth)):
            deep = b'{"x": ' + nested(depth) + b"}"
            r = client.post(path, content=deep, headers={**headers, "Content-Type": "application/json"})
            assert r.status_code == 400, (path, depth, r.status_code, r.text)
            assert r.json()["detail"] == "invalid body: JSON nested more than 64 levels deep", r.text
    # 64 levels are still read (and refused for what they say, not for their shape)
    body = b'{"signal_id": 0, "x": ' + nested(63) + b"}"
    r = client.post("/api/v1/ea/ack", content=body, headers=ea_headers(device, body))
    assert r.status_code == 422 and r.json()["detail"] == "signal_id must be a positive integer", r.text
    assert m("errors_total") == errors0


# ------------------------------------------------------------------ 4. IPv4-mapped denylist networks
def test_ipv4_mapped_denylist_networks_match_ipv4_clients(h, client, backend):
    prefix = loopback().rsplit(".", 1)[0]
    tool = STACK / "backend" / "bin" / "denylist-add"
    try:
        r = subprocess.run([str(tool), f"::ffff:{prefix}.0/121", f"ip=::ffff:{prefix}.200"], cwd=backend.cwd,
                           env=backend.env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert f"denylist-add: {prefix}.0/25 added to" in r.stdout and f"{prefix}.200 added to" in r.stdout
        assert backend.denylist.read_text().splitlines()[-2:] == [f"{prefix}.0/25", f"{prefix}.200"]
        with h.client_from(backend.url, f"{prefix}.5") as c, h.client_from(backend.url, f"{prefix}.200") as d:
            assert wait_for(lambda: c.get("/api/v1/approvals").status_code == 403, 3)
            assert d.get("/api/v1/approvals").status_code == 403
        # written by hand in the mapped form (the long one too), it matches as well
        backend.denylist.write_text(f"0:0:0:0:0:ffff:{prefix}.128/121\n")
        with h.client_from(backend.url, f"{prefix}.130") as c:
            assert wait_for(lambda: c.get("/api/v1/approvals").status_code == 403, 3)
        with h.client_from(backend.url, f"{prefix}.5") as c:
            assert c.get("/api/v1/approvals").status_code == 200
    finally:
        backend.denylist.write_text("# emptied\n")


# ------------------------------------------------------------------ 5. control characters in log lines
def test_control_characters_cannot_forge_log_lines(h, client, backend, device):
    """U+0085 (NEL) in a header, CR / LF / U+2028 / ESC in a login email or a signal's source: each is escaped,
    so the log stays one event per line and a forged ERROR line never appears."""
    forged = "2030-01-01T00:00:00.000Z ERROR forged"
    start = len(backend.logs())
    r = client.get("/api/v1/ea/poll", headers={
        "X-Device-Id": ("x\x85" + forged).encode("latin-1"), "X-Timestamp": "1", "X-Nonce": "n", "X-Signature": "s"})
    assert r.status_code == 401
    r = client.get("/api/v1/ea/poll", headers={
        "X-Device-Id": ("x\x85" + forged.replace(" ", "\xa0")).encode("latin-1"), "X-Timestamp": "1"})
    assert r.status_code == 401
    for sep in ("\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e", "\x1b[2K\r"):
        r = client.post("/api/v1/auth/login", json={"email": f"a{sep}{forged}", "password": "x"})
        assert r.status_code == 401
        r = client.post("/api/v1/auth/login", json={"email": f"a{sep}{forged.replace(' ', '')}", "password": "x"})
        assert r.status_code == 401
    h.new_signal(client, source=f"gen\u2028{forged}")
    h.new_signal(client, source=f"gen\x85{forged.replace(' ', '')}")
    time.sleep(0.2)
    tail = backend.logs()[start:]
    lines = tail.splitlines()  # str.splitlines breaks on every separator a log reader might
    assert len(lines) >= 24
    for line in lines:
        assert LINE_START.match(line) and not line.startswith("2030-"), repr(line)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]", tail)
    assert "\\u0085" in tail and "\\u2028" in tail


# ------------------------------------------------------------------ 6. login timing
@pytest.mark.parametrize("known", [True, False], ids=["known-email", "unknown-email"])
def test_every_login_costs_one_password_hash(monkeypatch, known):
    """Unknown emails skipped scrypt (~50 ms): their quick 401 told which accounts exist. Both answers now
    check one hash (the dummy one for an unknown email), so they cost the same: counted, not timed."""
    import asyncio
    from contextlib import asynccontextmanager
    from importlib import import_module

    from fastapi import HTTPException

    monkeypatch.syspath_prepend(str(STACK))
    auth = import_module("backend.app.routes.auth")
    checked: list[str] = []

    @asynccontextmanager
    async def connection():
        yield None

    async def fetchone(conn, sql, params):
        return {"id": "u1", "password_hash": "scrypt$stored"} if known else None

    monkeypatch.setattr(auth.db, "connection", connection)
    monkeypatch.setattr(auth, "fetchone", fetchone)
    monkeypatch.setattr(auth, "verify_password", lambda password, stored: checked.append(stored) or False)
    with pytest.raises(HTTPException) as caught:
        asyncio.run(auth.login(auth.LoginIn(email="someone@example.com", password="wrong-password")))
    assert caught.value.status_code == 401 and caught.value.detail == "invalid credentials"
    assert checked == ["scrypt$stored" if known else auth.DUMMY_PASSWORD_HASH]


# ------------------------------------------------------------------ 8. /ready and unmatched paths rate-limited
def test_ready_has_a_budget_of_its_own_far_above_the_probes(h, backend, redis_alive):
    """The stock budget (600/min per address) takes the drills' steady-state polling (every 0.5 s: 120/min)
    with room for the compose healthcheck beside it."""
    assert "config key=READY_RATE_LIMIT_PER_MINUTE value=600 source=backend/.env" in backend.logs()
    left = 60 - time.time() % 60
    if left < 8:
        time.sleep(left + 0.2)
    with h.client_from(backend.url, loopback()) as c:
        codes = {c.get("/ready").status_code for _ in range(130)}
    assert codes == {200}


def test_ready_and_unmatched_paths_are_rate_limited(h, make_backend, redis_alive):
    # Redis database 1: its start's own /ready polls from 127.0.0.1 are not counted with the other backends'
    b = make_backend(dotenv={"RATE_LIMIT_PER_MINUTE": "3", "READY_RATE_LIMIT_PER_MINUTE": "50"},
                     env={"REDIS_URL": redis_alive.url.rsplit("/", 1)[0] + "/1"})
    left = 60 - time.time() % 60
    if left < 8:
        time.sleep(left + 0.2)
    ip = loopback()
    with h.client_from(b.url, ip) as c, h.client_from(b.url, loopback()) as other:
        assert [c.get("/ready").status_code for _ in range(51)] == [200] * 50 + [429]
        assert other.get("/ready").status_code == 200  # per address
        # unknown paths, API or not, share one per-address budget
        codes = [c.get(p).status_code for p in ("/nope", "/api/v1/nowhere", "/wp-login.php", "/api/v1/x", "/y")]
        assert codes == [404, 404, 404, 429, 429]
        assert c.get("/api/v1/approvals").status_code == 200  # a real route keeps its own budget
        assert c.get("/openapi.json").status_code == 200  # FastAPI's own routes are routes, not unmatched
        assert [c.get("/health").status_code for _ in range(5)] == [200] * 5  # liveness is never limited
    assert b.metric("ratelimit_block_total", {"route": "/ready"}) == 1
    assert b.metric("ratelimit_block_total", {"route": "unmatched"}) == 2
    logs = b.logs()
    assert f"WARNING rate_limit ip={ip} route=/ready" in logs and f"WARNING rate_limit ip={ip} route=unmatched" in logs
