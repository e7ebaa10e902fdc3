"""Throwaway Postgres + Redis + backend (uvicorn subprocess) for the platform tests.

Everything binds to 127.0.0.1 on free ports. The backend is never imported: tests talk HTTP/SQL/Redis.
"""
from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from servers import free_port

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "stack"
BACKEND_SRC = STACK / "backend"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PYTHON = sys.executable


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


# ------------------------------------------------------------------ postgres
class Postgres:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "pgdata"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.url = f"postgresql://postgres:postgres@127.0.0.1:{self.port}/trading_signals"

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        if self.as_root:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, check=True, capture_output=True, text=True, **kw)

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--no-sync"])
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.base / "pg.log"),
                   "-w", "-t", "30", "start"])
        import psycopg
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE trading_signals")

    def stop(self) -> None:
        try:
            self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        except subprocess.CalledProcessError:
            pass


# ------------------------------------------------------------------ redis
class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)


# ------------------------------------------------------------------ stub vendor
class Vendor:
    """Tiny market-data vendor: GET /quote/<instrument>. `delay` seconds before answering, `fail` -> 500."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.fail = False
        self.calls = 0
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                vendor.calls += 1
                if vendor.delay:
                    time.sleep(vendor.delay)
                m = re.match(r"^/quote/([A-Za-z0-9._-]+)$", self.path)
                if vendor.fail:
                    code, body = 500, {"error": "vendor down"}
                elif not m:
                    code, body = 404, {"error": "unknown"}
                else:
                    code, body = 200, {"symbol": m.group(1), "bid": 1.0841, "ask": 1.0843, "ts": time.time()}
                data = json.dumps(body).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        self.delay, self.fail = 0.0, False

    def close(self) -> None:
        self.server.shutdown()


# ------------------------------------------------------------------ backend
class Backend:
    """The backend as `uvicorn backend.app.main:app` from a temp cwd holding backend/.env + denylist.txt."""

    def __init__(self, workdir: Path, env: dict[str, str], dotenv: dict[str, str] | None = None) -> None:
        self.cwd = workdir
        (workdir / "backend").mkdir(parents=True, exist_ok=True)
        self.env_file = workdir / "backend" / ".env"
        self.denylist = workdir / "backend" / "denylist.txt"
        shutil.copy(BACKEND_SRC / ".env", self.env_file)
        shutil.copy(BACKEND_SRC / "denylist.txt", self.denylist)
        if dotenv:
            self.edit_env(dotenv)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(STACK), "PYTHONUNBUFFERED": "1", **env}
        for k in ("RATE_LIMIT_PER_MINUTE", "SIGNAL_RATE_LIMIT_PER_MINUTE", "DB_POOL_SIZE", "RELEASE", "CIRCUIT_BREAKER_ENABLED"):
            if k not in env:
                self.env.pop(k, None)  # let backend/.env decide, as in the stack
        self.log_path = workdir / "backend.log"
        self.proc: subprocess.Popen | None = None
        self._log_fh = None

    def edit_env(self, changes: dict[str, str]) -> None:
        lines = self.env_file.read_text().splitlines()
        seen = set()
        for i, line in enumerate(lines):
            key = line.split("=", 1)[0].strip()
            if key in changes and not line.lstrip().startswith("#"):
                lines[i] = f"{key}={changes[key]}"
                seen.add(key)
        lines += [f"{k}={v}" for k, v in changes.items() if k not in seen]
        self.env_file.write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 30.0) -> None:
        self._log_fh = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "uvicorn", "backend.app.main:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-proxy-headers"],
            cwd=self.cwd, env=self.env, stdout=self._log_fh, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"backend exited rc={self.proc.returncode}:\n{self.logs()[-3000:]}")
            try:
                r = httpx.get(self.url + "/ready", timeout=2)
                last = r.text
                if r.status_code == 200:
                    return
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise RuntimeError(f"backend not ready: {last}\n{self.logs()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self._log_fh:
            self._log_fh.close()
            self._log_fh = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        """Value of one sample from /metrics (0.0 if absent)."""
        text = httpx.get(self.url + "/metrics", timeout=5).text
        return parse_metric(text, name, labels)


def parse_metric(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in (labels or {}).items()):
            return float(m.group(4))
    return 0.0


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def tmp_base():
    d = Path(tempfile.mkdtemp(prefix="alertdrill-platform-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def pg(tmp_base):
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (set PG_BIN)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root but no `postgres` OS user to run initdb as")
        if not shutil.which("runuser"):
            pytest.skip("running as root and `runuser` is missing")
    server = Postgres(tmp_base / "pg")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not found on PATH")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vendor():
    v = Vendor()
    yield v
    v.close()


def _addresses(pg, redis_server, vendor) -> dict[str, str]:
    return {"DATABASE_URL": pg.url, "REDIS_URL": redis_server.url, "VENDOR_URL": vendor.url}


@pytest.fixture(scope="session")
def backend(tmp_base, pg, redis_server, vendor):
    """The shared backend: stock backend/.env except high rate limits and a short pool timeout."""
    b = Backend(tmp_base / "main", _addresses(pg, redis_server, vendor),
                dotenv={"RATE_LIMIT_PER_MINUTE": "1000000", "SIGNAL_RATE_LIMIT_PER_MINUTE": "1000000",
                        "DB_POOL_TIMEOUT": "2"})
    b.start()
    yield b
    b.stop()


@pytest.fixture
def make_backend(tmp_base, pg, redis_server, vendor, backend):
    """Start extra backends (own cwd/.env) against the same Postgres/Redis; stopped after the test."""
    started: list[Backend] = []

    def factory(dotenv: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Backend:
        d = Path(tempfile.mkdtemp(prefix="be-", dir=tmp_base))
        b = Backend(d, {**_addresses(pg, redis_server, vendor), **(env or {})}, dotenv=dotenv)
        b.start()
        started.append(b)
        return b

    yield factory
    for b in started:
        b.stop()


@pytest.fixture
def redis_alive(redis_server, backend):
    """Guarantee Redis is up (a test may have killed it) and the backend sees it again."""
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    deadline = time.time() + 10
    while time.time() < deadline:
        if backend.metric("redis_connected") == 1.0:
            break
        time.sleep(0.2)
    return redis_server


@pytest.fixture
def client(backend, redis_alive):
    with httpx.Client(base_url=backend.url, timeout=15) as c:
        yield c


def login(c: httpx.Client, email="trader@example.com", password="trader-password") -> str:
    r = c.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.fixture
def token(client) -> str:
    return login(client)


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def pg_conn(pg):
    import psycopg
    with psycopg.connect(pg.url, autocommit=True) as c:
        yield c


SIGNAL_KEY = {"X-API-Key": "dev-signal-key"}


def new_signal(c: httpx.Client, **over) -> dict:
    import uuid
    body = {"instrument": "EURUSD", "side": "buy", "price": 1.0842, "quality": 0.8, "source": "test-gen",
            "client_ref": f"ref-{uuid.uuid4().hex}"}
    body.update(over)
    r = c.post("/api/v1/signals", json=body, headers=SIGNAL_KEY)
    assert r.status_code == 201, r.text
    return r.json()


def client_from(base_url: str, source_ip: str, **kw) -> httpx.Client:
    """An HTTP client whose connections come from `source_ip` (any 127.x.y.z can be bound on Linux): how the
    tests give simulated clients their own address now that X-Forwarded-For is not trusted by default."""
    return httpx.Client(base_url=base_url, transport=httpx.HTTPTransport(local_address=source_ip),
                        timeout=kw.pop("timeout", 10), **kw)


def hang_up(port: int, method: str, path: str, headers: dict[str, str], declared: int, body: bytes = b"",
            source_ip: str = "127.0.0.1") -> None:
    """A client that sends its headers with `Content-Length: declared`, only `body` of it, then hangs up."""
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", "Content-Length": str(declared), **headers}.items())
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source_ip, 0)) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body)
        time.sleep(0.05)  # the server has the request under way: it is the body that goes missing


def sum_metric(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of every sample of `name` whose labels include `labels` (parse_metric gives the first one)."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in (labels or {}).items()):
            total += float(m.group(4))
    return total


@pytest.fixture(scope="session")
def h():
    """Helpers for test modules (used instead of `from conftest import ...`, which is ambiguous when
    several conftest.py files exist under tests/)."""
    from types import SimpleNamespace
    return SimpleNamespace(login=login, new_signal=new_signal, parse_metric=parse_metric, SIGNAL_KEY=SIGNAL_KEY,
                           free_port=free_port, client_from=client_from, hang_up=hang_up, sum_metric=sum_metric)
