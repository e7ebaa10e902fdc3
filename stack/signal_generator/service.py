"""Signal generator: steady-rate signal creation, at-least-once delivery to the backend, metrics/status."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import random
import signal
import socket
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR

from .config import Config, ConfigError, load_config

log = logging.getLogger("signal_generator")

BASE_PRICES = {"EURUSD": 1.0850, "GBPUSD": 1.2700, "XAUUSD": 2350.0, "USDJPY": 151.20}
RETRYABLE_STATUS = {408, 425, 429}
LEDGER_SIZE = 100_000


def utc_iso(ts: float | None = None) -> str:
    dt = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{utc_iso(record.created)} {record.levelname} signal_source {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_Formatter())
    log.handlers[:] = [handler]
    log.setLevel(getattr(logging, level, logging.INFO))
    log.propagate = False


def sample_quality(mode: str, rng: random.Random) -> float:
    """normal: Beta(4,2), P(q > 0.5) ~ 0.81. degraded: Beta(2,7), P(q < 0.5) ~ 0.965: at one signal a
    second a drill's compressed window holds about ten decisions, and at 89 % poor (Beta(2,5)) one window
    in eleven still showed 70 % or less rejected, restarting the alert's `for`."""
    if mode == "degraded":
        q = rng.betavariate(2.0, 7.0)
    else:
        q = rng.betavariate(4.0, 2.0)
    return round(min(1.0, max(0.0, q)), 4)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            with contextlib.suppress(Exception):
                self.registry.register(collector)
        r = self.registry
        self.generated = Counter("signals_generated_total", "Signals created by the generator", registry=r)
        self.delivered = Counter("signals_delivered_total", "Signals acknowledged by the backend (200/201)", registry=r)
        self.filtered = Counter("signals_filtered_total", "Signals dropped below MIN_SIGNAL_QUALITY", registry=r)
        self.failures = Counter(
            "signal_delivery_failures_total",
            "Delivery attempts that failed and will be retried (connection error, timeout, 5xx, 429)",
            registry=r,
        )
        self.rejected = Counter("signals_rejected_total", "Signals refused by the backend with a 4xx (dropped)", registry=r)
        self.backlog = Gauge("signal_backlog", "Signals generated but not yet acknowledged by the backend", registry=r)


class Journal:
    """Append-only JSON lines of what the generator must not forget across a restart:
    {"g": [client_ref, generated_at, signal|null]} when a signal is generated (the signal itself while it
    awaits delivery) and {"s": [client_ref, state]} when its state changes. Each line is flushed to the OS
    as it is written (it survives a crash or SIGKILL of the process; the container's filesystem survives
    `docker compose restart`). Replayed at start, then compacted to the current ledger and backlog; a torn
    last line (a crash mid-write) is skipped."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._fh = None
        self.lines = 0

    def load(self) -> tuple[collections.OrderedDict, dict[str, dict]]:
        ledger: collections.OrderedDict[str, list] = collections.OrderedDict()
        unacked: dict[str, dict] = {}
        try:
            fh = open(self.path, encoding="utf-8")
        except FileNotFoundError:
            return ledger, unacked
        with fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                    if "g" in rec:
                        ref, at, sig = rec["g"]
                        ledger[ref] = [float(at), "pending" if sig else "filtered"]
                        if sig:
                            unacked[ref] = sig
                    elif "s" in rec:
                        ref, state = rec["s"]
                        if ref in ledger:
                            ledger[ref][1] = state
                        if state != "pending":
                            unacked.pop(ref, None)
                except (ValueError, TypeError, KeyError):
                    log.warning("state journal line skipped (torn write?) path=%s", self.path)
        while len(ledger) > LEDGER_SIZE:
            ledger.popitem(last=False)
        return ledger, unacked

    def rewrite(self, ledger: collections.OrderedDict, unacked: dict[str, dict]) -> None:
        """Replace the journal with the current state (written aside, then renamed over it)."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        lines = 0
        with open(tmp, "w", encoding="utf-8") as fh:
            for ref, (at, state) in ledger.items():
                fh.write(json.dumps({"g": [ref, at, unacked.get(ref)]}) + "\n")
                lines += 1
                if state not in ("pending", "filtered"):
                    fh.write(json.dumps({"s": [ref, state]}) + "\n")
                    lines += 1
            for ref, sig in unacked.items():  # still undelivered but aged out of the ledger
                if ref not in ledger:
                    fh.write(json.dumps({"g": [ref, time.time(), sig]}) + "\n")
                    lines += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self.lines = lines
        self._fh = open(self.path, "a", encoding="utf-8")

    def append(self, rec: dict) -> None:
        if self._fh is None:
            return
        try:
            self._fh.write(json.dumps(rec) + "\n")
            self._fh.flush()
            self.lines += 1
        except OSError as exc:
            if self._fh is not None:
                log.error("state journal write failed path=%s: %s", self.path, exc)

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None


class SignalService:
    def __init__(self, cfg: Config, rng: random.Random | None = None) -> None:
        self.cfg = cfg
        self.rng = rng or random.Random()
        self.metrics = Metrics()
        self.pending: collections.deque[dict] = collections.deque()
        # client_ref -> [generated_at unix, state]; what each signal became, for audits after an outage
        self.ledger: collections.OrderedDict[str, list] = collections.OrderedDict()
        # client_ref -> signal, for every signal not yet acknowledged (queued or in flight)
        self.unacked: dict[str, dict] = {}
        self.journal = Journal(cfg.state_file) if cfg.state_file else None
        self.inflight = 0
        self._wakeup = asyncio.Event()
        self.counts = collections.Counter()
        self.prices = {i: BASE_PRICES.get(i, 100.0) for i in cfg.instruments}
        self.started_at = utc_iso()
        self.last_delivery_at: str | None = None
        self.last_error: str | None = None
        self._failing_since: float | None = None
        self._tasks: list[asyncio.Task] = []
        self._client: httpx.AsyncClient | None = None

    # ---- signals -------------------------------------------------------------------------
    def make_signal(self) -> dict:
        instrument = self.rng.choice(self.cfg.instruments)
        price = self.prices[instrument]
        price = max(price * (1.0 + self.rng.gauss(0.0, 0.0005)), 1e-6)
        self.prices[instrument] = price
        decimals = 2 if price > 500 else 3 if price > 20 else 5
        return {
            "instrument": instrument,
            "side": self.rng.choice(("buy", "sell")),
            "price": round(price, decimals),
            "quality": sample_quality(self.cfg.quality_mode, self.rng),
            "source": "signal-generator",
            "client_ref": str(uuid.uuid4()),
        }

    @property
    def backlog(self) -> int:
        return len(self.pending) + self.inflight

    def _update_backlog(self) -> None:
        self.metrics.backlog.set(self.backlog)

    def status(self) -> dict:
        return {
            "generated": self.counts["generated"],
            "delivered": self.counts["delivered"],
            "filtered": self.counts["filtered"],
            "rejected": self.counts["rejected"],
            "delivery_failures": self.counts["failures"],
            "backlog": self.backlog,
            "quality_mode": self.cfg.quality_mode,
            "min_quality": self.cfg.min_quality,
            "interval_seconds": self.cfg.interval,
            "backend_url": self.cfg.backend_url,
            "started_at": self.started_at,
            "last_delivery_at": self.last_delivery_at,
            "last_error": self.last_error,
        }

    def _record(self, client_ref: str, state: str, sig: dict | None = None) -> None:
        entry = self.ledger.get(client_ref)
        if entry is None:
            at = time.time()
            self.ledger[client_ref] = [at, state]
            while len(self.ledger) > LEDGER_SIZE:
                self.ledger.popitem(last=False)
            if self.journal:
                self.journal.append({"g": [client_ref, at, sig if state == "pending" else None]})
        else:
            entry[1] = state
            if self.journal:
                self.journal.append({"s": [client_ref, state]})
        if state == "pending" and sig is not None:
            self.unacked[client_ref] = sig
        elif state != "pending":
            self.unacked.pop(client_ref, None)
        if self.journal and self.journal.lines > 3 * LEDGER_SIZE:
            self.journal.rewrite(self.ledger, self.unacked)

    def restore(self) -> int:
        """Replay the journal: the ledger comes back, and every signal still pending goes back in the
        backlog (oldest first). Returns how many were restored to the backlog."""
        if not self.journal:
            return 0
        self.ledger, self.unacked = self.journal.load()
        for sig in self.unacked.values():
            self.pending.append(sig)
        self.journal.rewrite(self.ledger, self.unacked)
        self._update_backlog()
        if self.pending:
            self._wakeup.set()
        return len(self.pending)

    def ledger_since(self, since: float) -> list[dict]:
        return [{"client_ref": ref, "generated_at": at, "state": state}
                for ref, (at, state) in self.ledger.items() if at >= since]

    def generate_one(self) -> None:
        sig = self.make_signal()
        filtered = self.cfg.min_quality > 0 and sig["quality"] < self.cfg.min_quality
        self._record(sig["client_ref"], "filtered" if filtered else "pending", sig)
        self.counts["generated"] += 1
        self.metrics.generated.inc()
        log.debug("generated client_ref=%s instrument=%s side=%s price=%s quality=%s",
                  sig["client_ref"], sig["instrument"], sig["side"], sig["price"], sig["quality"])
        if filtered:
            self.counts["filtered"] += 1
            self.metrics.filtered.inc()
            log.info("filtered client_ref=%s instrument=%s quality=%.4f min_quality=%s",
                     sig["client_ref"], sig["instrument"], sig["quality"], self.cfg.min_quality)
            return
        self.pending.append(sig)
        self._update_backlog()
        self._wakeup.set()

    async def generate_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            try:
                self.generate_one()
            except Exception:  # never let one bad signal stop generation
                log.exception("generate failed")
            next_t += self.cfg.interval
            now = loop.time()
            if next_t < now - self.cfg.interval:  # stalled loop: keep the rate, do not burst
                next_t = now
            await asyncio.sleep(max(0.0, next_t - now))

    # ---- delivery ------------------------------------------------------------------------
    async def _next_signal(self) -> dict:
        while not self.pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        sig = self.pending.popleft()
        self.inflight += 1
        return sig

    async def deliver_loop(self, worker: int) -> None:
        while True:
            sig = await self._next_signal()
            try:
                await self._deliver(sig, worker)
            except asyncio.CancelledError:
                # Shutting down: put it back so the exit log counts it.
                self.pending.appendleft(sig)
                raise
            finally:
                self.inflight -= 1
                self._update_backlog()

    async def _deliver(self, sig: dict, worker: int) -> None:
        assert self._client is not None
        url = f"{self.cfg.backend_url}/api/v1/signals"
        attempt = 0
        while True:
            attempt += 1
            reason = None
            try:
                resp = await self._client.post(url, json=sig)
            except httpx.TimeoutException as exc:
                reason = f"timeout ({type(exc).__name__})"
            except httpx.HTTPError as exc:
                reason = f"connection error ({type(exc).__name__}: {exc})"
            else:
                code = resp.status_code
                if code in (200, 201):
                    self._record(sig["client_ref"], "delivered")
                    self.counts["delivered"] += 1
                    self.metrics.delivered.inc()
                    self.last_delivery_at = utc_iso()
                    if self._failing_since is not None:
                        log.info("recovered backend=%s after %.1fs of failures backlog=%d",
                                 self.cfg.backend_url, time.monotonic() - self._failing_since, self.backlog)
                        self._failing_since = None
                    log.debug("delivered client_ref=%s status=%d attempt=%d", sig["client_ref"], code, attempt)
                    return
                if code >= 500 or code in RETRYABLE_STATUS:
                    reason = f"http {code}"
                else:
                    self.counts["rejected"] += 1
                    self._record(sig["client_ref"], "rejected")
                    self.metrics.rejected.inc()
                    body = resp.text[:300].replace("\n", " ")
                    self.last_error = f"rejected http {code}"
                    log.error("rejected client_ref=%s instrument=%s status=%d body=%s (dropped)",
                              sig["client_ref"], sig["instrument"], code, body)
                    return
            # retryable failure
            self.counts["failures"] += 1
            self.metrics.failures.inc()
            self.last_error = reason
            if self._failing_since is None:
                self._failing_since = time.monotonic()
            backoff = min(self.cfg.max_backoff, 0.1 * (2 ** min(attempt - 1, 10)))
            backoff *= 0.75 + 0.5 * self.rng.random()
            log.warning("retrying client_ref=%s attempt=%d reason=%s backoff=%.2fs backlog=%d",
                        sig["client_ref"], attempt, reason, backoff, self.backlog)
            await asyncio.sleep(backoff)

    async def summary_loop(self) -> None:
        last = dict(self.counts)
        while True:
            await asyncio.sleep(self.cfg.summary_interval)
            now = dict(self.counts)
            delta = {k: now.get(k, 0) - last.get(k, 0) for k in ("generated", "delivered", "filtered", "rejected", "failures")}
            last = now
            log.info(
                "summary generated=%d(+%d) delivered=%d(+%d) filtered=%d(+%d) rejected=%d(+%d) "
                "delivery_failures=%d(+%d) backlog=%d",
                now.get("generated", 0), delta["generated"], now.get("delivered", 0), delta["delivered"],
                now.get("filtered", 0), delta["filtered"], now.get("rejected", 0), delta["rejected"],
                now.get("failures", 0), delta["failures"], self.backlog,
            )

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        headers = {"X-API-Key": self.cfg.api_key, "User-Agent": "signal-generator/1.0"}
        if self.cfg.forwarded_for:
            headers["X-Forwarded-For"] = self.cfg.forwarded_for
        transport = None
        if self.cfg.source_address:
            transport = httpx.AsyncHTTPTransport(local_address=self.cfg.source_address)
        self._client = httpx.AsyncClient(
            headers=headers, transport=transport,
            timeout=httpx.Timeout(self.cfg.http_timeout),
            limits=httpx.Limits(max_connections=self.cfg.concurrency + 2, max_keepalive_connections=self.cfg.concurrency),
            trust_env=False,  # loopback only; never route through a proxy from the environment
        )
        self._tasks = [asyncio.create_task(self.generate_loop(), name="generate")]
        self._tasks += [asyncio.create_task(self.deliver_loop(i), name=f"deliver-{i}") for i in range(self.cfg.concurrency)]
        self._tasks.append(asyncio.create_task(self.summary_loop(), name="summary"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.aclose(), 1.0)
        if self.journal:
            self.journal.close()
        self._update_backlog()


def build_app(svc: SignalService) -> FastAPI:
    app = FastAPI(title="signal-generator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/signals")
    def signals(since: float = 0.0) -> JSONResponse:
        """Each signal generated since `since` (unix time) and what became of it:
        pending | delivered | filtered | rejected (the last LEDGER_SIZE signals)."""
        return JSONResponse({"signals": svc.ledger_since(since)})

    @app.get("/status")
    def status() -> JSONResponse:
        return JSONResponse(svc.status())

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/")
    def root() -> PlainTextResponse:
        return PlainTextResponse("signal-generator: /health /status /metrics\n")

    return app


class _Server(uvicorn.Server):
    """uvicorn server that leaves signal handling to us (we stop the generator first)."""

    @contextlib.contextmanager
    def capture_signals(self):  # uvicorn >= 0.29
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn
        return None


async def run(cfg: Config) -> int:
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", cfg.port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        log.error("cannot listen on 127.0.0.1:%d: %s", cfg.port, exc)
        return 1

    svc = SignalService(cfg)
    server = _Server(uvicorn.Config(build_app(svc), log_level="warning", access_log=False, lifespan="off",
                                    timeout_graceful_shutdown=1))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    received: list[str] = []

    def _on_signal(signame: str) -> None:
        received.append(signame)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig.name)

    restored = svc.restore()
    if svc.journal:
        log.info("state journal path=%s ledger=%d restored_backlog=%d", svc.journal.path, len(svc.ledger), restored)
    server_task = asyncio.create_task(server.serve(sockets=[sock]), name="http")
    await svc.start()
    log.info("started port=%d backend=%s interval=%ss quality_mode=%s min_quality=%s",
             cfg.port, cfg.backend_url, cfg.interval, cfg.quality_mode, cfg.min_quality)
    stop_task = asyncio.create_task(stop.wait())
    await asyncio.wait({server_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)

    rc = 0
    if server_task.done() and not stop.is_set():
        log.error("http server stopped unexpectedly: %r", server_task.exception() if not server_task.cancelled() else "cancelled")
        rc = 1
    await svc.stop()
    s = svc.status()
    kept = f"kept in {svc.journal.path}, delivered after restart" if svc.journal else "undelivered, lost on exit"
    log.info("stopping signal=%s generated=%d delivered=%d filtered=%d rejected=%d backlog=%d (%s)",
             received[0] if received else "none", s["generated"], s["delivered"], s["filtered"], s["rejected"], s["backlog"],
             kept)
    server.should_exit = True
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(server_task, 2.0)
    stop_task.cancel()
    with contextlib.suppress(Exception):
        sock.close()
    return rc


def main() -> int:
    setup_logging("INFO")
    try:
        cfg = load_config()
    except ConfigError as exc:
        log.error("invalid configuration: %s", exc)
        return 2
    setup_logging(cfg.log_level)
    log.info("config env_file=%s found=%s", cfg.env_file, cfg.env_file_found)
    for line in cfg.describe():
        log.info("%s", line)
    return asyncio.run(run(cfg))
