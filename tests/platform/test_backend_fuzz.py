"""No input, however malformed, gets a 5xx: property-based tests against a running backend.

1. Every operation of the backend's own OpenAPI description (GET /openapi.json of the running server) is
   fuzzed by schemathesis with the checks "no server error" and "response matches the schema", both with
   and without a valid session.
2. Hypothesis drives the header formats the schema cannot describe fully (Stripe-Signature, the EA's
   X-Timestamp / X-Nonce / X-Signature, JWTs with every algorithm including none) and NUL / non-ASCII /
   unpaired surrogates in every string the API takes, checking that each refusal is a 4xx with a reason,
   counted in its domain metric and never in errors_total.
3. Hypothesis drives, on every route where each applies: bodies cut short by a client hanging up (a
   client_disconnects_total, never errors_total), JSON nested too deep (a 400), Stripe-Signature t elements
   written oddly, IPv4-mapped denylist networks, and control characters / line separators in every value
   the backend logs (each log line stays one event).

Examples are bounded and derandomized (the same cases every run: no flaky tests, a bounded tier time);
FUZZ_EXAMPLES scales them for a longer hunt by hand.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation import GenerationMode

pytestmark = [pytest.mark.platform, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]

REPO = Path(__file__).resolve().parents[2]
SCALE = float(os.environ.get("FUZZ_EXAMPLES", "1"))
WHSEC = "whsec_alertdrill_test"
JWT_SECRET = "alertdrill-dev-jwt-secret-change-me"
CASES: dict[str, int] = {}  # test -> requests sent (printed at the end of the module)


def examples(n: int) -> settings:
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


def errors_total(backend) -> float:
    text = httpx.get(backend.url + "/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("errors_total{"))


@pytest.fixture(scope="module", autouse=True)
def no_server_errors_counted(backend, vendor, redis_server):
    """Across the whole module: errors_total (what CriticalErrorRate pages on) does not move."""
    vendor.reset()
    if redis_server.proc is None or redis_server.proc.poll() is not None:  # an earlier test stopped it
        redis_server.start()
    deadline = time.time() + 10
    while backend.metric("redis_connected") != 1.0 and time.time() < deadline:
        time.sleep(0.2)
    before = errors_total(backend)
    yield
    assert errors_total(backend) == before, "a fuzzed request was counted in errors_total"
    print(f"\nfuzz cases per run: {sum(CASES.values())} ({', '.join(f'{k} {v}' for k, v in sorted(CASES.items()))})")


# ------------------------------------------------------------------ 1. the OpenAPI description
@pytest.fixture(scope="module")
def api_schema(backend):
    return schemathesis.openapi.from_url(backend.url + "/openapi.json")


CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def session_token(backend, no_server_errors_counted) -> str:
    r = httpx.post(backend.url + "/api/v1/auth/login",
                   json={"email": "trader@example.com", "password": "trader-password"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_openapi_fuzz(api_schema, backend, session_token, mode, signed_in):
    """Every operation of /openapi.json: valid (positive) and schema-violating (negative) requests, as a
    stranger and with a live session; checks "no server error" and "response matches the schema"."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 13
    failures = []
    for op in operations:
        auth = signed_in and op.path != "/api/v1/auth/logout"  # keep the session alive for the others
        headers = {"Authorization": f"Bearer {session_token}"} if auth else {}

        @given(case=op.as_strategy(generation_mode=mode))
        @examples(12 if signed_in else 20)
        def run(case):
            count(f"openapi {mode.value}{' signed-in' if signed_in else ''}")
            case.call_and_validate(base_url=backend.url, checks=CHECKS, headers=headers)

        try:
            run()
        except Unsatisfiable:  # negative mode, an operation that takes no input: nothing to violate
            assert mode is GenerationMode.NEGATIVE, op.path
        except Exception as exc:  # noqa: BLE001 - gather every operation's failure, then report them all
            failures.append(f"{op.method.upper()} {op.path}: {exc}"[:1500])
    assert not failures, "\n\n".join(failures)


# ------------------------------------------------------------------ 2. explicit header formats and strings
# Header values as HTTP lets a client send them: visible ASCII, space, tab and every non-ASCII byte
# (obs-text); control characters are refused by the HTTP layer itself before any code of ours runs.
header_text = st.text(st.characters(codec="latin-1", exclude_categories=["Cc"], include_characters="\t"),
                      max_size=80).map(lambda v: v.strip(" \t"))
# Strings as JSON can carry them: NUL, control characters, non-ASCII, unpaired surrogates.
nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=20),
    st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfff", "é", "日本", "\u202e", " ", "%00", "\\x00"]),
)


def assert_4xx(r: httpx.Response) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.json().get("detail"), r.text  # a reason


def stripe_sig(payload: bytes, t: int | None = None, secret: str = WHSEC) -> str:
    t = int(time.time()) if t is None else t
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def http(backend):
    with httpx.Client(base_url=backend.url, timeout=10) as c:
        yield c


@given(sig=st.one_of(
    header_text,
    st.builds(lambda t, v: f"t={t},v1={v}", st.one_of(st.integers(), header_text), header_text),
    st.builds(lambda t, v: f"t={t},v1={v},v0={v}", st.integers(-2**70, 2**70), st.text(
        st.characters(min_codepoint=0x30, max_codepoint=0xFF, exclude_categories=["Cc"]), min_size=64, max_size=64)),
))
@examples(60)
def test_stripe_signature_header_formats(http, backend, sig):
    count("Stripe-Signature")
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.paid"}).encode()
    r = http.post("/api/v1/billing/webhook", content=payload,
                  headers={"Content-Type": "application/json", "Stripe-Signature": sig.encode("latin-1")})
    assert r.status_code == 400, (sig, r.status_code, r.text)
    assert r.json()["detail"].startswith("invalid signature")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3), max_leaves=8)


@given(body=st.one_of(
    json_values,
    st.fixed_dictionaries({"id": nasty_text, "type": nasty_text}),
    st.fixed_dictionaries({"id": st.just("evt_") | nasty_text, "type": st.just("checkout.session.completed"),
                           "data": st.fixed_dictionaries({"object": st.fixed_dictionaries(
                               {"customer": json_values, "amount_total": json_values})})}),
))
@examples(60)
def test_signed_webhook_bodies(http, pg_conn, body):
    """Correctly signed, any JSON at all: processed, duplicate or a 400, never a 5xx (a 503 would make the
    provider retry a poison event for ever)."""
    count("signed webhook body")
    if isinstance(body, dict) and body.get("id") == "evt_":
        body["id"] = f"evt_{uuid.uuid4().hex}"
    payload = json.dumps(body).encode()
    r = http.post("/api/v1/billing/webhook", content=payload,
                  headers={"Content-Type": "application/json", "Stripe-Signature": stripe_sig(payload)})
    assert r.status_code in (200, 400), (payload[:200], r.status_code, r.text)
    if r.status_code == 200:
        assert r.json()["status"] in ("processed", "duplicate")
        stored = pg_conn.execute("SELECT count(*) FROM webhook_events WHERE event_id = %s",
                                 (r.json()["event_id"],)).fetchone()[0]
        assert stored == 1
    else:
        assert_4xx(r)


@pytest.fixture(scope="module")
def device(backend, session_token):
    r = httpx.post(backend.url + "/api/v1/devices", headers={"Authorization": f"Bearer {session_token}"}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def ea_sign(secret: str, path: str, ts: str, nonce: str, body: bytes = b"", method: str = "GET") -> str:
    return hmac.new(secret.encode(), f"{method}\n{path}\n{ts}\n{nonce}\n".encode() + body, hashlib.sha256).hexdigest()


@given(device_id=st.none() | header_text, ts=st.none() | header_text | st.integers(-2**80, 2**80).map(str),
       nonce=st.none() | header_text, signature=st.none() | header_text | st.just("sign"))
@examples(80)
def test_ea_header_formats(http, backend, device, device_id, ts, nonce, signature):
    """Any X-Device-Id / X-Timestamp / X-Nonce / X-Signature: a 401 (or 409 on a reused nonce) counted in
    ea_errors_total, never a 5xx."""
    count("EA headers")
    dev = device["device_id"] if device_id is None else device_id
    ts = str(int(time.time())) if ts is None else ts
    nonce = uuid.uuid4().hex if nonce is None else nonce
    if signature in (None, "sign"):
        signature = ea_sign(device["secret"], "/api/v1/ea/poll", ts, nonce)
    headers = {"X-Device-Id": dev, "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": signature}
    r = http.get("/api/v1/ea/poll", headers={k: v.encode("latin-1") for k, v in headers.items()})
    if r.status_code == 200:  # only a well-formed, correctly signed, fresh request
        assert dev == device["device_id"] and abs(int(ts) - time.time()) <= 301
        return
    assert r.status_code in (401, 409), (headers, r.status_code, r.text)
    assert r.json()["error_type"] in ("auth_failed", "invalid_signature", "nonce_replay")


@given(body=st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode())))
@examples(40)
def test_ea_ack_signed_bodies(http, device, body):
    count("EA ack body")
    ts, nonce = str(int(time.time())), uuid.uuid4().hex
    sig = ea_sign(device["secret"], "/api/v1/ea/ack", ts, nonce, body, "POST")
    r = http.post("/api/v1/ea/ack", content=body, headers={
        "X-Device-Id": device["device_id"], "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": sig,
        "Content-Type": "application/json"})
    assert r.status_code in (200, 400, 404, 422), (body, r.status_code, r.text)
    if r.status_code != 200:
        assert_4xx(r)


JWT_ALGS = ["none", "HS256", "HS384", "HS512"]


@given(alg=st.sampled_from(JWT_ALGS), key=st.sampled_from([JWT_SECRET, "wrong-secret", ""]),
       claims=st.dictionaries(st.sampled_from(["sub", "sid", "exp", "iat", "nbf", "aud"]), json_values, max_size=5),
       tamper=st.sampled_from(["", "header", "payload", "signature", "junk"]), junk=header_text)
@examples(60)
def test_jwt_algorithms_and_claims(http, backend, alg, key, claims, tamper, junk):
    """Any token: alg none, another HMAC, the wrong key, odd claims (NUL, objects, huge numbers), tampered
    parts: a 401 with a reason, never a 5xx."""
    count("JWT")
    try:
        token = jwt.encode(claims, None if alg == "none" else (key or "k"), algorithm=alg)
    except (TypeError, ValueError, OverflowError):
        token = "e30.e30."
    parts = token.split(".")
    if tamper == "header":
        parts[0] = parts[0][::-1]
    elif tamper == "payload":
        parts[1] = junk.encode("latin-1").hex()
    elif tamper == "signature":
        parts[-1] = junk.encode("latin-1").hex()
    elif tamper == "junk":
        parts = [junk]
    value = ("Bearer " + ".".join(parts)).strip(" \t").encode("latin-1")
    r = http.get("/api/v1/signals", headers={"Authorization": value})
    assert r.status_code in (200, 401), (claims, alg, r.status_code, r.text)  # 200: a session it really holds
    if r.status_code == 401:
        assert r.json()["detail"]


def test_jwt_alg_none_with_a_live_session_is_refused(http, session_token):
    claims = jwt.decode(session_token, options={"verify_signature": False})
    forged = jwt.encode(claims, None, algorithm="none")
    r = http.get("/api/v1/signals", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid token"
    assert http.get("/api/v1/signals", headers={"Authorization": f"Bearer {session_token}"}).status_code == 200


def test_login_strings(http, backend):
    """Any email / password: 401 or 422 with a reason, each counted as a failed login (auth_login_total)."""
    before = backend.metric("auth_login_total", {"result": "failure"})
    sent = []

    @given(email=nasty_text, password=nasty_text)
    @examples(40)
    def run(email, password):
        count("login strings")
        sent.append(email)
        r = http.post("/api/v1/auth/login", content=json.dumps({"email": email, "password": password}),
                      headers={"Content-Type": "application/json"})
        assert r.status_code in (401, 422), (email, password, r.status_code, r.text)
        assert_4xx(r)

    run()
    assert backend.metric("auth_login_total", {"result": "failure"}) == before + len(sent)


@given(field=st.sampled_from(["instrument", "source", "client_ref", "side"]), value=nasty_text)
@examples(40)
def test_signal_strings(http, pg_conn, field, value):
    count("signal strings")
    body = {"instrument": "EURUSD", "side": "buy", "price": 1.1, "quality": 0.5, "source": "fuzz",
            "client_ref": f"fuzz-{uuid.uuid4().hex}", field: value}
    r = http.post("/api/v1/signals", content=json.dumps(body),
                  headers={"Content-Type": "application/json", "X-API-Key": "dev-signal-key"})
    assert r.status_code in (200, 201, 422), (body, r.status_code, r.text)
    if r.status_code in (200, 201):  # 200: a retry of a client_ref stored before
        assert pg_conn.execute("SELECT count(*) FROM signals WHERE client_ref = %s",
                               (body["client_ref"],)).fetchone()[0] == 1
    else:
        assert_4xx(r)


@given(where=st.sampled_from(["devices-user", "devices-status", "approvals-status", "signals-limit", "revoke",
                              "market", "approve"]), value=nasty_text)
@examples(60)
def test_query_and_path_strings(http, session_token, where, value):
    """NUL, non-ASCII and surrogates (percent-encoded as UTF-8, or not encodable at all) in every query and
    path parameter."""
    count("query/path strings")
    enc = urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")
    auth = {"Authorization": f"Bearer {session_token}"}
    method, url = {
        "devices-user": ("GET", f"/api/v1/devices?user_id={enc}"),
        "devices-status": ("GET", f"/api/v1/devices?status={enc}"),
        "approvals-status": ("GET", f"/api/v1/approvals?status={enc}"),
        "signals-limit": ("GET", f"/api/v1/signals?limit={enc}"),
        "revoke": ("POST", f"/api/v1/devices/{enc}/revoke"),
        "market": ("GET", f"/api/v1/market/{enc}"),
        "approve": ("POST", f"/api/v1/approvals/{enc}"),
    }[where]
    r = http.request(method, url, headers=auth, json={"decision": 1} if where == "approve" else None)
    assert r.status_code < 500, (url, r.status_code, r.text)
    if r.status_code >= 400:
        assert_4xx(r)


def test_named_cases_from_the_issue(http, backend, device):
    """The inputs the issue reported as 500/503, each now a 4xx with a reason in its domain metric."""
    m = lambda name, labels: backend.metric(name, labels)
    inv0 = m("webhook_events_total", {"outcome": "invalid_signature"})
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.paid"}).encode()
    t = int(time.time())
    good = stripe_sig(payload, t)
    # a Stripe-Signature whose v1 holds a non-ASCII byte
    r = http.post("/api/v1/billing/webhook", content=payload, headers={"Stripe-Signature": (good[:-1] + "é").encode("latin-1")})
    assert r.status_code == 400
    # correctly signed bodies that are a JSON array, a string, an event id with a NUL
    for body in (b"[1, 2]", b'"evt"', json.dumps({"id": "evt_\x00x", "type": "invoice.paid"}).encode()):
        r = http.post("/api/v1/billing/webhook", content=body, headers={"Stripe-Signature": stripe_sig(body)})
        assert r.status_code == 400 and r.json()["detail"].startswith("invalid payload"), r.text
    assert m("webhook_events_total", {"outcome": "invalid_signature"}) == inv0 + 4
    # NUL in a login email, in a query parameter
    fail0 = m("auth_login_total", {"result": "failure"})
    r = http.post("/api/v1/auth/login", json={"email": "trader\x00@example.com", "password": "x"})
    assert r.status_code == 422 and m("auth_login_total", {"result": "failure"}) == fail0 + 1
    r = http.get("/api/v1/devices?user_id=a%00b")
    assert r.status_code == 400 and "NUL" in r.json()["detail"]
    # a non-ASCII EA X-Signature
    auth0 = m("ea_errors_total", {"endpoint": "/ea/poll", "error_type": "auth_failed"})
    ts, nonce = str(int(time.time())), uuid.uuid4().hex
    sig = ea_sign(device["secret"], "/api/v1/ea/poll", ts, nonce)
    r = http.get("/api/v1/ea/poll", headers={"X-Device-Id": device["device_id"], "X-Timestamp": ts,
                                             "X-Nonce": nonce, "X-Signature": (sig[:-1] + "ÿ").encode("latin-1")})
    assert r.status_code == 401 and r.json()["error_type"] == "auth_failed"
    assert m("ea_errors_total", {"endpoint": "/ea/poll", "error_type": "auth_failed"}) == auth0 + 1


# ------------------------------------------------------------------ 3. hang-ups, nesting, signatures, networks, logs
# Every route that takes a body: (method, path, headers); {device}/{token} filled in per test.
BODY_ROUTES = {
    "login": ("POST", "/api/v1/auth/login", {}),
    "signals": ("POST", "/api/v1/signals", {"X-API-Key": "dev-signal-key"}),
    "approve": ("POST", "/api/v1/approvals/1", {"Authorization": "Bearer {token}"}),
    "webhook": ("POST", "/api/v1/billing/webhook", {"Stripe-Signature": "t=1,v1=00"}),
    "ea-ack": ("POST", "/api/v1/ea/ack", {"X-Device-Id": "{device}"}),
}


def metrics_sum(h, backend, name: str, **labels: str) -> float:
    return h.sum_metric(httpx.get(backend.url + "/metrics", timeout=5).text, name, labels)


def wait_until(pred, timeout: float = 5.0) -> bool:
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


@given(route=st.sampled_from(sorted(BODY_ROUTES)), declared=st.integers(1, 65536), fraction=st.floats(0, 0.99),
       prefix=st.sampled_from([b'{"email": "a', b'{"id": "evt_', b"[" * 100, b'{"signal_id": 1', b"\xff\xfe"]))
@examples(20)
def test_truncated_bodies(h, backend, session_token, device, route, declared, fraction, prefix):
    """A client that declares a body and hangs up part way, on every route that reads one: a client
    disconnect (499, client_disconnects_total), never errors_total (checked for the module) nor a domain
    metric an alert reads."""
    count("hang-up")
    method, path, headers = BODY_ROUTES[route]
    headers = {k: v.format(token=session_token, device=device["device_id"]) for k, v in headers.items()}
    body = (prefix * (declared // len(prefix) + 1))[:int(declared * fraction)]
    label = path[len("/api/v1"):].replace("/approvals/1", "/approvals/{signal_id}")
    requests0 = metrics_sum(h, backend, "http_requests_total", route=label)
    before = metrics_sum(h, backend, "client_disconnects_total", endpoint=label)
    webhook0, ea0 = metrics_sum(h, backend, "webhook_events_total"), metrics_sum(h, backend, "ea_errors_total")
    h.hang_up(backend.port, method, path, {**headers, "Content-Type": "application/json"}, declared, body)
    assert wait_until(lambda: metrics_sum(h, backend, "http_requests_total", route=label) == requests0 + 1)
    assert metrics_sum(h, backend, "client_disconnects_total", endpoint=label) == before + 1, (route, declared, len(body))
    assert metrics_sum(h, backend, "webhook_events_total") == webhook0
    assert metrics_sum(h, backend, "ea_errors_total") == ea0


@given(route=st.sampled_from(sorted(BODY_ROUTES)), depth=st.integers(65, 3000) | st.just(5000),
       shape=st.sampled_from(["[", '{"a": ']), inside=st.booleans())
@examples(25)
def test_deep_nesting_on_every_json_body(http, session_token, device, route, depth, shape, inside):
    """JSON nested past 64 levels (past Python's recursion limit at the top), as the body or inside an
    otherwise valid one, correctly signed where the route wants a signature: a 400 saying so."""
    count("deep nesting")
    close = {"[": "]", '{"a": ': "}"}[shape]
    deep = shape * depth + "1" + close * depth
    body = ('{"email": "a@b.c", "password": "x", "instrument": "EURUSD", "signal_id": 1, "decision": 1, '
            f'"id": "evt_x", "type": "invoice.paid", "data": {deep}}}' if inside else deep).encode()
    method, path, headers = BODY_ROUTES[route]
    headers = {k: v.format(token=session_token, device=device["device_id"]) for k, v in headers.items()}
    if route == "webhook":
        headers["Stripe-Signature"] = stripe_sig(body)
    elif route == "ea-ack":
        ts, nonce = str(int(time.time())), uuid.uuid4().hex
        headers.update({"X-Timestamp": ts, "X-Nonce": nonce,
                        "X-Signature": ea_sign(device["secret"], path, ts, nonce, body, "POST")})
    r = http.request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400, (route, depth, r.status_code, r.text)
    assert "nested more than 64 levels" in r.json()["detail"], r.text


@given(shape=st.sampled_from(["{t}={x}", "{t}=", " {t}", "{t} ", "+{t}", "{t:_}", "0{t}", "{t}.0"]),
       extra=st.sampled_from(["", ",t=1", ",t={t}", ",v1", ",=", ",v1={sig}={sig}", ",v0=ff"]),
       x=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=8))
@examples(30)
def test_stripe_signature_odd_timestamps(http, backend, shape, extra, x):
    """A correct v1 over the real timestamp, with the t element or the rest of the header written oddly
    (stripe's parser is lenient: int(" 12"), int("1_2"), `t=12=3` read as 12): processed only when the
    header is plain, otherwise a 400 with a reason, never a 5xx."""
    count("Stripe-Signature t")
    payload = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "invoice.paid"}).encode()
    t = int(time.time())
    v1 = stripe_sig(payload, t).split("v1=", 1)[1]
    header = f"t={shape.format(t=t, x=x)},v1={v1}" + extra.format(t=t, sig=v1)
    r = http.post("/api/v1/billing/webhook", content=payload, headers={"Stripe-Signature": header})
    elements = [e.split("=") for e in header.split(",")]
    stamps = [e[1] for e in elements if len(e) == 2 and e[0] == "t"]
    plain = all(len(e) == 2 for e in elements) and len(stamps) == 1 and re.fullmatch("[0-9]{1,12}", stamps[0])
    if r.status_code == 200:
        assert plain and r.json()["status"] == "processed", header
    else:
        assert r.status_code == 400 and r.json()["detail"].startswith("invalid signature"), (header, r.text)


@given(third=st.integers(0, 255), prefix=st.integers(104, 128), spelling=st.sampled_from(["::ffff:{a}", "::ffff:{h}",
                                                                                         "0:0:0:0:0:ffff:{a}"]))
@examples(4)
def test_ipv4_mapped_denylist_networks(backend, h, third, prefix, spelling):
    """denylist-add and a hand-edited denylist.txt: an IPv4-mapped network is the IPv4 network it maps (the
    form client addresses are compared in), and blocks a client inside it."""
    count("IPv4-mapped network")
    addr = ipaddress.IPv4Address(f"127.77.{third}.1")
    text = spelling.format(a=addr, h=f"{int(addr) >> 16:x}:{int(addr) & 0xffff:x}") + f"/{prefix}"
    want = ipaddress.IPv4Network(f"{addr}/{prefix - 96}", strict=False)
    tool = REPO / "stack" / "backend" / "bin" / "denylist-add"
    r = subprocess.run([str(tool), text], cwd=backend.cwd, env=backend.env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and f"denylist-add: {want} " in r.stdout, (text, r.stdout, r.stderr)
    try:
        backend.denylist.write_text(f"{text}\n")  # as an operator may write it by hand
        with h.client_from(backend.url, str(addr)) as c:
            assert wait_until(lambda: c.get("/api/v1/approvals").status_code == 403, 3), text
    finally:
        backend.denylist.write_text("# emptied\n")


LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S")
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Text that may end a line for some reader (str.splitlines, a terminal), or forge the next one.
line_breakers = st.lists(st.sampled_from(["\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028",
                                          "\u2029", "\x1b[2K", "\t", "\x00", " ", "\xa0", "2030-01-01T00:00:00.000Z",
                                          "ERROR", "forged", "=", '"', "\\"]), min_size=1, max_size=8).map("".join)


@given(field=st.sampled_from(["email", "source", "client_ref", "instrument", "X-Device-Id", "path"]),
       value=st.one_of(line_breakers, nasty_text))
@examples(40)
def test_control_characters_in_every_logged_field(h, http, backend, session_token, field, value):
    """Every client-supplied value the backend logs (login email, a signal's source / client_ref /
    instrument, X-Device-Id, the request path): its log lines stay one event per line, with no control
    character, line separator or unpaired surrogate written raw."""
    count("log fields")
    with open(backend.log_path, "rb") as fh:
        start = fh.seek(0, 2)
    if field == "email":
        http.post("/api/v1/auth/login", json={"email": f"a{value}b", "password": "x"})
    elif field in ("source", "client_ref", "instrument"):
        body = {"instrument": "EURUSD", "side": "buy", "price": 1.1, "quality": 0.5, "source": "fuzz",
                "client_ref": f"fuzz-{uuid.uuid4().hex}"}
        body[field] = f"x{value}"[:20] if field == "instrument" else f"{body[field]}{value}"
        http.post("/api/v1/signals", content=json.dumps(body), headers={"X-API-Key": "dev-signal-key",
                                                                         "Content-Type": "application/json"})
    elif field == "X-Device-Id":  # a header carries what HTTP lets through: no control character but C1
        dev = "".join(c for c in value if c in " \t" or 0x21 <= ord(c) <= 0x7e or 0x80 <= ord(c) <= 0xff)
        http.get("/api/v1/ea/poll", headers={"X-Device-Id": f"d{dev}d".encode("latin-1"), "X-Timestamp": "1"})
    else:  # a templated path, decoded: logged by the client-disconnect line
        enc = urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")
        h.hang_up(backend.port, "POST", f"/api/v1/approvals/{enc}", {"Content-Type": "application/json"}, 100,
                  b'{"decision"')
        time.sleep(0.2)
    with open(backend.log_path, "rb") as fh:
        fh.seek(start)
        tail = fh.read().decode("utf-8")  # strict: nothing unencodable was written either
    assert "Logging error" not in tail
    for line in tail.splitlines():  # str.splitlines breaks on \x85, \u2028, \x0b, \x1c ... as well
        assert LOG_LINE.match(line), (field, value, line)
    assert not UNSAFE.search(tail), (field, value, tail)
