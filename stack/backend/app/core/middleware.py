"""Outermost request handling (pure ASGI for speed):

denylist (403) -> body size limit (413) -> rate limit (429) -> app; request metrics; any exception
becomes a JSON 5xx with an `ERROR ... route=<full path>` log line; errors_total for every status >= 500.
A client that hangs up before its request is complete is recorded as status 499 in
client_disconnects_total, never in errors_total (its request cannot be a server fault).
"""
from __future__ import annotations

import ipaddress
import json
import os
import time
from typing import Callable, Iterable

import psycopg
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path

from .config import get_settings
from .db import DatabaseUnavailable, db
from .logging import log
from .metrics import (client_disconnects_total, errors_total, http_requests_total, ratelimit_block_total,
                      request_duration_seconds)
from .netaddr import ip_network
from .redis import REDIS_ERRORS, rds
from .security import is_signal_producer
from .util import client_ip, parse_ip

API_PREFIX = "/api/v1"


class BodyTooLarge(Exception):
    pass


class Denylist:
    """DENYLIST_FILE: one address or network per line, '#' comments; re-read when its mtime changes
    (checked <= 1/s). Entries are compared in canonical form (2001:DB8::1 == 2001:db8:0::1); a line that is
    not an address or network is logged and ignored."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.addresses: frozenset[str] = frozenset()
        self.networks: tuple = ()
        self._mtime: float | None = None
        self._checked = 0.0

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        try:
            st = os.stat(self.path)
            mtime = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime:
            return
        self._mtime = mtime
        addrs, nets = set(), []
        if mtime is not None:
            try:
                with open(self.path, encoding="utf-8", errors="replace") as fh:
                    for line in fh:
                        entry = line.split("#", 1)[0].strip()
                        if not entry:
                            continue
                        ip = parse_ip(entry)
                        if ip is not None:
                            addrs.add(ip)
                            continue
                        try:
                            nets.append(ip_network(entry))
                        except ValueError:
                            log.warning("denylist entry ignored not an address or network", path=self.path,
                                        entry=entry[:80])
            except OSError as exc:
                log.warning("denylist read failed", path=self.path, error=str(exc))
                return
        self.addresses, self.networks = frozenset(addrs), tuple(nets)
        log.info("denylist loaded", path=self.path, entries=len(addrs) + len(nets))

    def blocked(self, ip: str) -> bool:
        self._refresh()
        if ip in self.addresses:
            return True
        if self.networks:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                return False
            return any(addr.version == n.version and addr in n for n in self.networks)
        return False


async def _send_json(send, status: int, body: dict, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": data})


class PlatformMiddleware:
    def __init__(self, app, templates: Callable[[], list[tuple[str, set]]]) -> None:
        """templates(): [(full path template, methods)], e.g. ("/api/v1/approvals/{signal_id}", {"POST"})."""
        self.app = app
        self._templates = templates
        self._table: list | None = None
        self.denylist: Denylist | None = None

    def route_template(self, scope) -> str:
        if self._table is None:
            self._table = [(compile_path(t)[0], t, m) for t, m in self._templates()]
        path, method = scope["path"], scope["method"]
        partial = None
        for regex, template, methods in self._table:
            if regex.match(path):
                if not methods or method in methods or (method == "HEAD" and "GET" in methods):
                    return template
                if partial is None:
                    partial = template
        return partial or "unmatched"

    @staticmethod
    def _rate_client(scope, ip: str) -> tuple[str, int]:
        """Whom the rate limit counts, and their budget a minute. The signal producer (its SIGNAL_API_KEY in
        X-API-Key) by its key: an internal service that must catch up after an ingestion outage, whose
        backlog would otherwise use up its address's minute and have its live signals refused. Everyone
        else by address (RATE_LIMIT_PER_MINUTE)."""
        s = get_settings()
        key = next((value for name, value in scope.get("headers", ()) if name == b"x-api-key"), None)
        if is_signal_producer(key):
            return "signal-producer", s.signal_rate_limit_per_minute
        return ip, s.rate_limit_per_minute

    async def _rate_limited(self, client: str, limit: int, label: str) -> bool:
        if limit <= 0:
            return False
        if not rds.connected:
            if log.throttled("rl_fail_open", 10):
                log.warning("rate_limit failing open redis unavailable")
            return False
        key = f"rl:{client}:{label}:{int(time.time() // 60)}"
        try:
            count = await rds.count_in_window(keys=[key], args=[60])
        except REDIS_ERRORS as exc:
            if log.throttled("rl_fail_open", 10):
                log.warning("rate_limit failing open redis error", error=type(exc).__name__)
            return False
        return int(count) > limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == "/metrics":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        method: str = scope["method"]
        template = self.route_template(scope)
        is_api = path.startswith(API_PREFIX + "/")
        label = template[len(API_PREFIX):] if template.startswith(API_PREFIX + "/") else template
        started = time.perf_counter()
        state = {"status": None, "logged": False, "hung_up": False}
        received, body_done = 0, False

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            await send(message)

        try:
            budget = None  # requests a minute for this client on this route; None: not limited
            if is_api:
                ip = client_ip(scope)
                if self.denylist is None:
                    self.denylist = Denylist(get_settings().denylist_file)
                if self.denylist.blocked(ip):
                    log.warning("denylist blocked", ip=ip, route=label)
                    await _send_json(send_wrapper, 403, {"detail": "address blocked"})
                    return
                client, budget = self._rate_client(scope, ip)
            elif template == "/ready":
                # It queries Postgres and Redis: a budget of its own, far above the probes' polling
                ip = client = client_ip(scope)
                budget = get_settings().ready_rate_limit_per_minute
            elif template == "unmatched":  # a scanner's 404s share one per-address budget
                ip = client = client_ip(scope)
                budget = get_settings().rate_limit_per_minute
            if budget is not None and await self._rate_limited(client, budget, label):
                ratelimit_block_total.labels(label).inc()
                log.warning("rate_limit", ip=ip, route=label, **({} if client == ip else {"client": client}))
                await _send_json(send_wrapper, 429, {"detail": "rate limit exceeded"},
                                 [(b"retry-after", str(60 - int(time.time()) % 60).encode())])
                return
            query = scope.get("query_string", b"")
            if "\x00" in path or b"%00" in query or b"\x00" in query:
                # PostgreSQL cannot store NUL and no route takes one: refused before any handler sees it
                await _send_json(send_wrapper, 400, {"detail": "NUL byte in the request path or query"})
                return
            limit = get_settings().max_body_bytes
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    try:
                        too_big = int(value) > limit
                    except ValueError:
                        await _send_json(send_wrapper, 400, {"detail": "invalid content-length"})
                        return
                    if too_big:
                        await _send_json(send_wrapper, 413, {"detail": f"request body larger than {limit} bytes"})
                        return

            async def receive_wrapper():
                nonlocal received, body_done
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge()
                    body_done = not message.get("more_body", False)
                elif message["type"] == "http.disconnect" and not body_done:
                    # Hung up mid-body: whatever the app makes of the truncated request (FastAPI answers 400,
                    # a raw body read raises ClientDisconnect) is the client's doing.
                    state["hung_up"] = True
                return message

            await self.app(scope, receive_wrapper, send_wrapper)
        except BodyTooLarge:
            if state["status"] is None:
                await _send_json(send_wrapper, 413, {"detail": f"request body larger than {limit} bytes"})
        except ClientDisconnect:
            state["hung_up"] = True  # mid-body, or while its answer was being sent
        except Exception as exc:  # noqa: BLE001 - last line of defence: JSON 5xx, never a traceback
            status, detail = 500, "internal server error"
            full = path
            if isinstance(exc, DatabaseUnavailable):
                status, detail = 503, str(exc)
                st = db.stats()
                log.error(str(exc), route=full, method=method, in_use=st["in_use"], max=st["max"],
                          waiting=st["waiting"])
            elif isinstance(exc, psycopg.OperationalError):
                status, detail = 503, "database unavailable"
                log.error("database error", route=full, method=method, error=f"{type(exc).__name__}: {exc}")
            elif isinstance(exc, psycopg.DataError):
                # Input the database refused as data (a value out of range, untranslatable text) that no
                # validation caught: the client's fault, answered 400 and logged so the gap gets closed.
                status, detail = 400, "invalid input: the value cannot be stored"
                log.warning("bad input reached the database", route=full, method=method,
                            error=f"{type(exc).__name__}: {exc}"[:300])
            elif isinstance(exc, psycopg.Error):
                log.error("database query failed", route=full, method=method, error=f"{type(exc).__name__}: {exc}")
            elif isinstance(exc, REDIS_ERRORS):
                status, detail = 503, "redis unavailable"
                log.error("redis error", route=full, method=method, error=f"{type(exc).__name__}: {exc}")
            else:
                log.error("unhandled exception", exc_info=exc, route=full, method=method)
            state["logged"] = True
            if state["status"] is None:
                await _send_json(send_wrapper, status, {"detail": detail})
            else:
                state["status"] = 500
        finally:
            # 499 (nginx's "client closed request"): nobody received an answer, whatever was sent
            status = 499 if state["hung_up"] else state["status"] or 500
            elapsed = time.perf_counter() - started
            request_duration_seconds.labels(label, method).observe(elapsed)
            http_requests_total.labels(label, method, str(status)).inc()
            if status == 499:
                client_disconnects_total.labels(label, method).inc()
                log.info("client disconnected", route=path, method=method, received=received,
                         duration_ms=round(elapsed * 1000, 1))
            elif status >= 500:
                errors_total.labels(label, str(status)).inc()
                if not state["logged"]:
                    log.error("request failed", route=path, method=method, status=status,
                              duration_ms=round(elapsed * 1000, 1))
