"""Signal generator: steady-rate signal creation, at-least-once delivery to the backend, metrics/status."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import signal
import socket
import sys
import time
import uuid
from datetime import datetime, timezone

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
    """normal: Beta(4,2), P(q > 0.5) ~ 0.81. degraded: Beta(2,5), P(q < 0.5) ~ 0.89."""
    if mode == "degraded":
        q = rng.betavariate(2.0, 5.0)
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


class SignalService:
    def __init__(self, cfg: Config, rng: random.Random | None = None) -> None:
        self.cfg = cfg
        self.rng = rng or random.Random()
        self.metrics = Metrics()
        self.pending: collections.deque[dict] = collections.deque()
        # client_ref -> [generated_at unix, state]; what each signal became, for audits after an outage
        self.ledger: collections.OrderedDict[str, list] = collections.OrderedDict()
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

    def _record(self, client_ref: str, state: str) -> None:
        entry = self.ledger.get(client_ref)
        if entry is None:
            self.ledger[client_ref] = [time.time(), state]
            while len(self.ledger) > LEDGER_SIZE:
                self.ledger.popitem(last=False)
        else:
            entry[1] = state

    def ledger_since(self, since: float) -> list[dict]:
        return [{"client_ref": ref, "generated_at": at, "state": state}
                for ref, (at, state) in self.ledger.items() if at >= since]

    def generate_one(self) -> None:
        sig = self.make_signal()
        self._record(sig["client_ref"], "pending")
        self.counts["generated"] += 1
        self.metrics.generated.inc()
        log.debug("generated client_ref=%s instrument=%s side=%s price=%s quality=%s",
                  sig["client_ref"], sig["instrument"], sig["side"], sig["price"], sig["quality"])
        if self.cfg.min_quality > 0 and sig["quality"] < self.cfg.min_quality:
            self.counts["filtered"] += 1
            self._record(sig["client_ref"], "filtered")
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
        self._client = httpx.AsyncClient(
            headers=headers,
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
    log.info("stopping signal=%s generated=%d delivered=%d filtered=%d rejected=%d backlog=%d (undelivered, lost on exit)",
             received[0] if received else "none", s["generated"], s["delivered"], s["filtered"], s["rejected"], s["backlog"])
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
