"""signal_generator: steady rate, at-least-once delivery through outages, quality filter/modes, metrics, config.

Each test runs `python -m signal_generator` as a subprocess on a free loopback port against a small fake
backend (http.server in a thread) that records POSTs and can be switched to fail.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from servers import free_port

pytestmark = pytest.mark.platform

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "stack"
API_KEY = "test-signal-key"
REQUIRED_FIELDS = {"instrument", "side", "price", "quality", "source", "client_ref"}


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last={last!r})")


# ---- fake backend ------------------------------------------------------------------------------
class FakeBackend:
    """Records POST /api/v1/signals. mode: ok | 503 | 429 | reject (422) | store_then_503 | down (not listening)."""

    def __init__(self, port: int | None = None, api_key: str = API_KEY) -> None:
        self.port = port or free_port()
        self.api_key = api_key
        self.lock = threading.Lock()
        self.mode = "ok"
        self.stored: dict[str, dict] = {}  # client_ref -> payload (first stored)
        self.posts: list[tuple[str, int, dict]] = []  # (client_ref, status, headers)
        self.conns: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self):
        fake_backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def setup(self):
                super().setup()
                with fake_backend.lock:
                    fake_backend.conns.add(self.connection)

            def finish(self):
                with fake_backend.lock:
                    fake_backend.conns.discard(self.connection)
                super().finish()

            def _reply(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path != "/api/v1/signals":
                    return self._reply(404, {"detail": "not found"})
                try:
                    payload = json.loads(raw)
                except ValueError:
                    return self._reply(400, {"detail": "bad json"})
                ref = payload.get("client_ref", "")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake_backend.lock:
                    mode = fake_backend.mode
                    if headers.get("x-api-key") != fake_backend.api_key:
                        code = 401
                    elif mode == "503":
                        code = 503
                    elif mode == "429":
                        code = 429
                    elif mode == "reject":
                        code = 422
                    elif ref in fake_backend.stored:
                        code = 200
                    else:
                        fake_backend.stored[ref] = payload
                        code = 503 if mode == "store_then_503" else 201
                    fake_backend.posts.append((ref, code, headers))
                self._reply(code, {"client_ref": ref})

        return Handler

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:  # drop kept-alive connections too: a real outage
            conns, self.conns = list(self.conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def set_mode(self, mode: str) -> None:
        with self.lock:
            self.mode = mode

    def snapshot(self):
        with self.lock:
            return dict(self.stored), list(self.posts)


@pytest.fixture
def fake_backend():
    fb = FakeBackend()
    fb.start()
    yield fb
    fb.stop()


# ---- generator process -------------------------------------------------------------------------
class Generator:
    def __init__(self, tmp_path: Path, env: dict[str, str], cwd: Path | None = None) -> None:
        self.port = free_port()
        self.log_path = tmp_path / f"generator-{self.port}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNAL_", "BACKEND_URL", "MIN_SIGNAL",
                                                                             "FORWARDED_FOR", "LOG_LEVEL"))}
        full_env.update({
            "PYTHONPATH": str(STACK),
            "PYTHONUNBUFFERED": "1",
            "SIGNAL_GENERATOR_PORT": str(self.port),
            "NO_PROXY": "127.0.0.1,localhost",
        })
        if "SIGNAL_GENERATOR_ENV_FILE" not in env and cwd is None:
            full_env["SIGNAL_GENERATOR_ENV_FILE"] = str(tmp_path / "no-such.env")
        full_env.update(env)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "signal_generator"],
            cwd=str(cwd or tmp_path), env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.base, timeout=2.0, trust_env=False)
        try:
            wait_until(self._healthy, 10.0, what="generator /health")
        except AssertionError:
            self.terminate()
            raise AssertionError("generator did not start:\n" + self.log())

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"generator exited rc={self.proc.returncode}:\n{self.log()}")
        try:
            return self.client.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> dict:
        r = self.client.get("/status")
        r.raise_for_status()
        return r.json()

    def metrics(self) -> dict[str, float]:
        text = self.client.get("/metrics").text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 5.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.client.close()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def start_generator(tmp_path):
    procs: list[Generator] = []

    def _start(env: dict[str, str], cwd: Path | None = None) -> Generator:
        g = Generator(tmp_path, env, cwd)
        procs.append(g)
        return g

    yield _start
    for g in procs:
        g.terminate()


def generated_refs(log: str) -> list[str]:
    return re.findall(r"DEBUG signal_source generated client_ref=(\S+)", log)


# ---- tests -------------------------------------------------------------------------------------
def test_steady_rate_payload_metrics_and_status(fake_backend, start_generator):
    g = start_generator({
        "BACKEND_URL": fake_backend.url, "SIGNAL_API_KEY": API_KEY, "SIGNAL_INTERVAL_SECONDS": "0.05",
        "FORWARDED_FOR": "10.20.30.40",
    })
    time.sleep(0.2)
    s0, t0 = g.status()["generated"], time.monotonic()
    time.sleep(1.0)
    s1, t1 = g.status()["generated"], time.monotonic()
    rate = (s1 - s0) / (t1 - t0)
    assert 14 <= rate <= 26, f"expected ~20 signals/s, got {rate:.1f}"

    stored, posts = fake_backend.snapshot()
    assert len(stored) >= 20
    for ref, payload in stored.items():
        assert set(payload) == REQUIRED_FIELDS, payload
        assert str(uuid.UUID(ref, version=4)) == ref
        assert payload["instrument"] in {"EURUSD", "GBPUSD", "XAUUSD", "USDJPY"}
        assert payload["side"] in {"buy", "sell"}
        assert isinstance(payload["price"], (int, float)) and payload["price"] > 0
        assert 0.0 <= payload["quality"] <= 1.0
        assert payload["source"] == "signal-generator"
    assert all(h.get("x-api-key") == API_KEY and h.get("x-forwarded-for") == "10.20.30.40" for _, _, h in posts)
    assert all(code == 201 for _, code, _ in posts)

    st = g.status()
    for key in ("generated", "delivered", "filtered", "rejected", "backlog", "quality_mode", "min_quality", "started_at"):
        assert key in st
    assert st["quality_mode"] == "normal" and st["min_quality"] == 0.0 and st["filtered"] == 0
    assert st["backlog"] <= 3

    m = g.metrics()
    for name in ("signals_generated_total", "signals_delivered_total", "signals_filtered_total",
                 "signal_delivery_failures_total", "signals_rejected_total", "signal_backlog"):
        assert name in m, f"{name} missing from /metrics"
    assert m["signals_generated_total"] >= st["generated"] - 1
    assert m["signals_delivered_total"] >= len(stored) - 5
    assert m["signal_delivery_failures_total"] == 0

    assert g.terminate() == 0


def test_outage_retries_lose_nothing_and_duplicate_nothing(fake_backend, start_generator):
    g = start_generator({
        "BACKEND_URL": fake_backend.url, "SIGNAL_API_KEY": API_KEY, "SIGNAL_INTERVAL_SECONDS": "0.05",
        "SIGNAL_RETRY_MAX_BACKOFF": "0.3", "SIGNAL_HTTP_TIMEOUT": "1", "LOG_LEVEL": "DEBUG",
    })
    time.sleep(0.3)
    fake_backend.set_mode("503")
    time.sleep(0.6)
    assert g.status()["backlog"] >= 6, "backlog should grow while the backend answers 503"
    # Connection refused: nothing listening on the port.
    fake_backend.stop()
    time.sleep(0.6)
    peak = g.status()
    assert peak["backlog"] >= 15 and peak["delivery_failures"] > 0
    fake_backend.start()
    fake_backend.set_mode("429")
    time.sleep(0.3)
    # Stored by the backend but the answer is lost (5xx): the retry must come back as 200, not a second signal.
    fake_backend.set_mode("store_then_503")
    time.sleep(0.3)
    fake_backend.set_mode("ok")
    wait_until(lambda: g.status()["backlog"] <= 2, 8.0, what="backlog to drain")
    time.sleep(0.2)

    m = g.metrics()
    assert m["signal_delivery_failures_total"] > 0
    assert m["signals_rejected_total"] == 0
    assert g.terminate() == 0
    log = g.log()
    last = re.findall(r"stopping signal=SIGTERM generated=(\d+) delivered=(\d+) filtered=(\d+) rejected=(\d+) backlog=(\d+)", log)
    assert last, log[-2000:]
    generated, delivered, filtered, rejected, left = map(int, last[-1])

    refs = generated_refs(log)
    assert len(refs) == generated == len(set(refs))
    stored, posts = fake_backend.snapshot()
    # Each signal stored exactly once (the fake dedups by client_ref, as the real backend does) ...
    assert set(stored) <= set(refs)
    assert filtered == 0 and rejected == 0
    assert delivered + left == generated
    # Every acknowledgement is one distinct stored signal; a request in flight at SIGTERM may be stored unacked.
    assert delivered <= len(stored) <= delivered + left
    # ... and nothing lost: all generated signals were stored, except the few still pending at SIGTERM.
    missing = [r for r in refs if r not in stored]
    assert len(missing) <= left <= 3
    assert set(missing) <= set(refs[-8:]), "only the newest signals may still be pending at exit"
    # Retry of an already-stored signal answered 200 and was not stored twice.
    assert any(code == 200 for _, code, _ in posts)
    assert re.search(r"WARNING signal_source retrying .*reason=http 503", log)
    assert re.search(r"WARNING signal_source retrying .*reason=connection error", log)
    assert re.search(r"WARNING signal_source retrying .*reason=http 429", log)
    assert "INFO signal_source recovered" in log


def test_client_errors_are_rejected_and_dropped(fake_backend, start_generator):
    fake_backend.set_mode("reject")
    g = start_generator({"BACKEND_URL": fake_backend.url, "SIGNAL_API_KEY": API_KEY, "SIGNAL_INTERVAL_SECONDS": "0.05"})
    wait_until(lambda: g.status()["rejected"] >= 8, 3.0, what="rejections")
    st = g.status()
    assert st["rejected"] >= 8 and st["backlog"] <= 2 and st["delivered"] == 0
    _, posts = fake_backend.snapshot()
    refs = [p[0] for p in posts]
    assert len(refs) == len(set(refs)), "a 4xx (other than 429) must not be retried"
    assert g.metrics()["signals_rejected_total"] >= 8
    assert "ERROR signal_source rejected" in g.log()


def test_min_quality_filters_low_quality_signals(fake_backend, start_generator):
    g = start_generator({
        "BACKEND_URL": fake_backend.url, "SIGNAL_API_KEY": API_KEY, "SIGNAL_INTERVAL_SECONDS": "0.005",
        "SIGNAL_QUALITY_MODE": "degraded", "MIN_SIGNAL_QUALITY": "0.5",
    })
    # 300: at ~4 % passing, 120 signals left none stored about once in 70 runs
    wait_until(lambda: g.status()["generated"] >= 300, 10.0, what="300 signals")
    time.sleep(0.2)
    st = g.status()
    stored, _ = fake_backend.snapshot()
    assert st["quality_mode"] == "degraded" and st["min_quality"] == 0.5
    assert stored and all(p["quality"] >= 0.5 for p in stored.values())
    assert st["filtered"] + st["delivered"] + st["backlog"] + st["rejected"] == st["generated"]
    # Degraded regime: the large majority is poor, so most signals are filtered.
    frac_filtered = st["filtered"] / st["generated"]
    assert 0.85 <= frac_filtered < 1.0, frac_filtered
    assert g.metrics()["signals_filtered_total"] >= st["filtered"]
    assert "INFO signal_source filtered" in g.log()


def test_quality_distributions_by_mode():
    from importlib import import_module

    sys.path.insert(0, str(STACK))
    try:
        sample_quality = import_module("signal_generator.service").sample_quality
    finally:
        sys.path.remove(str(STACK))
    rng = random.Random(7)
    normal = [sample_quality("normal", rng) for _ in range(20000)]
    degraded = [sample_quality("degraded", rng) for _ in range(20000)]
    assert all(0.0 <= q <= 1.0 for q in normal + degraded)
    assert 0.75 <= sum(q > 0.5 for q in normal) / len(normal) <= 0.88
    assert 0.94 <= sum(q < 0.5 for q in degraded) / len(degraded) <= 0.985



def test_env_file_read_and_environment_wins(fake_backend, start_generator, tmp_path):
    env_file = tmp_path / "gen.env"
    env_file.write_text(
        "# test config\n"
        f"BACKEND_URL={fake_backend.url}\n"
        f"export SIGNAL_API_KEY='{API_KEY}'\n"
        "SIGNAL_INTERVAL_SECONDS=0.05\n"
        "SIGNAL_QUALITY_MODE=degraded\n"
        "MIN_SIGNAL_QUALITY=0.3\n"
        "FORWARDED_FOR=\"192.0.2.7\"\n"
    )
    g = start_generator({"SIGNAL_GENERATOR_ENV_FILE": str(env_file), "MIN_SIGNAL_QUALITY": "0.1"})
    st = g.status()
    assert st["quality_mode"] == "degraded"  # from the file
    assert st["min_quality"] == 0.1  # environment wins
    assert st["backend_url"] == fake_backend.url and st["interval_seconds"] == 0.05
    wait_until(lambda: len(fake_backend.snapshot()[0]) >= 3, 3.0, what="signals delivered with the file's key")
    _, posts = fake_backend.snapshot()
    assert all(h.get("x-forwarded-for") == "192.0.2.7" for _, _, h in posts)
    log = g.log()
    assert f"config SIGNAL_QUALITY_MODE=degraded source=file:{env_file}" in log
    assert "config MIN_SIGNAL_QUALITY=0.1 source=env" in log
    assert "config SIGNAL_API_KEY=*** " in log and API_KEY not in log


def test_default_env_file_relative_to_cwd(start_generator, tmp_path):
    # Run from stack/ (like /app in the image) with no SIGNAL_GENERATOR_ENV_FILE: signal_generator/.env applies,
    # including the default API key dev-signal-key. (Its state journal goes to tmp_path, not the source tree.)
    fb = FakeBackend(api_key="dev-signal-key")
    fb.start()
    try:
        g = start_generator({"BACKEND_URL": fb.url, "SIGNAL_INTERVAL_SECONDS": "0.05",
                             "SIGNAL_STATE_FILE": str(tmp_path / "journal.jsonl")}, cwd=STACK)
        st = g.status()
        assert st["quality_mode"] == "normal" and st["min_quality"] == 0.0
        log = g.log()
        assert "config SIGNAL_QUALITY_MODE=normal source=file:signal_generator/.env" in log
        assert "config SIGNAL_API_KEY=*** source=file:signal_generator/.env" in log
        wait_until(lambda: len(fb.snapshot()[0]) >= 2, 3.0, what="delivery with the default key")
        assert g.status()["rejected"] == 0
    finally:
        fb.stop()


def test_invalid_config_exits_nonzero(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNAL_")}
    env.update({"PYTHONPATH": str(STACK), "SIGNAL_QUALITY_MODE": "bogus",
                "SIGNAL_GENERATOR_ENV_FILE": str(tmp_path / "none.env")})
    r = subprocess.run([sys.executable, "-m", "signal_generator"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "invalid configuration" in r.stdout


def test_sigterm_exits_quickly_and_reports_backlog(start_generator):
    # Backend down the whole time: the backlog only grows, and SIGTERM still exits promptly.
    g = start_generator({"BACKEND_URL": f"http://127.0.0.1:{free_port()}", "SIGNAL_INTERVAL_SECONDS": "0.05"})
    wait_until(lambda: g.status()["backlog"] >= 5, 3.0, what="backlog")
    t0 = time.monotonic()
    assert g.terminate() == 0
    assert time.monotonic() - t0 < 3.0
    m = re.search(r"INFO signal_source stopping signal=SIGTERM .* backlog=(\d+)", g.log())
    assert m and int(m.group(1)) >= 5


def test_backlog_survives_restarts(tmp_path, start_generator, backend, pg):
    """The backend is unreachable, a backlog builds; the generator is killed (SIGKILL), started again
    (the backlog comes back and grows), stopped (SIGTERM), started once more against the real backend:
    the drills' "nothing lost" invariant (alertdrill.invariants.signals_stored_since) holds over the
    whole period: every signal generated before, between and after the restarts stored exactly once."""
    from scenarios.platform.invariants import signals_stored_since

    workdir = tmp_path / "app"
    workdir.mkdir()
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"SIGNAL_API_KEY": "dev-signal-key", "SIGNAL_INTERVAL_SECONDS": "0.05", "SIGNAL_RETRY_MAX_BACKOFF": "0.2",
           "SIGNAL_GENERATOR_ENV_FILE": str(tmp_path / "no-such.env")}
    t0 = time.time()
    g1 = start_generator({**env, "BACKEND_URL": dead}, cwd=workdir)
    wait_until(lambda: g1.status()["backlog"] >= 10, 10.0, what="a backlog while the backend is away")
    g1.proc.kill()  # a crash: no chance to save anything
    g1.proc.wait(5)
    first = {s["client_ref"] for s in journal_refs(workdir)}
    assert len(first) >= 10

    g2 = start_generator({**env, "BACKEND_URL": dead}, cwd=workdir)
    restored = int(re.search(r"restored_backlog=(\d+)", g2.log()).group(1))
    assert restored >= len(first) - 1  # every signal of the killed process (a torn last line at most)
    wait_until(lambda: g2.status()["backlog"] >= len(first) + 10, 10.0, what="the backlog to grow again")
    assert g2.terminate() == 0
    assert "delivered after restart" in g2.log()
    second = {s["client_ref"] for s in journal_refs(workdir)}
    assert first <= second and len(second) > len(first)

    g3 = start_generator({**env, "BACKEND_URL": backend.url, "SIGNAL_INTERVAL_SECONDS": "1"}, cwd=workdir)
    restored = int(re.search(r"state journal path=\S+ ledger=\d+ restored_backlog=(\d+)", g3.log()).group(1))
    assert restored >= len(second) - 2  # everything still pending when it was stopped (a torn line at most)
    seen = signals_stored_since(g3.base, pg.url, t0, drain_timeout=60)
    ledger = g3.client.get("/signals", params={"since": t0}).json()["signals"]
    refs = {s["client_ref"] for s in ledger}
    assert second <= refs, "signals generated before the restarts are missing from the ledger"
    assert all(s["state"] == "delivered" for s in ledger if s["client_ref"] in second), seen


def journal_refs(workdir: Path) -> list[dict]:
    """The journal's generated signals (read from the file: the process is gone)."""
    out = []
    path = workdir / "signal_generator" / "state" / "journal.jsonl"
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "g" in rec:
            out.append({"client_ref": rec["g"][0]})
    return out
