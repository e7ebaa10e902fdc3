"""What the API-health and business scenarios share: load shapes and recovery checks (who is notified is
the runbook's: AlertExpectation.from_runbook)."""
from __future__ import annotations

import time

import httpx

from alertdrill.engine.observe import since_range
from alertdrill.errors import require
from alertdrill.load.locust import LocustLoad
from alertdrill.load.paced import Paced

from scenarios.platform.client import PlatformClient


def dashboard_load(ctx, *, users: int, tasks: str, wait: float, run_time: float = 300, name: str = "",
                   arrive_over: float = 4.0) -> LocustLoad:
    """Traders with the dashboard open (locustfiles/dashboard.py), aimed at some of its routes. They arrive
    over about 4 s, not all in one: arriving together (up to twenty logins, each an scrypt hash, while
    Locust starts them) they took /signals past 1 s, HighAPILatency went pending in the warm-up of most
    drills, and each then waited 4-6 s for a quiet baseline. `arrive_over`: the seconds they take to arrive."""
    return LocustLoad("locustfiles/dashboard.py", host=ctx.endpoints.backend, users=users,
                      spawn_rate=max(1.0, users / arrive_over), run_time=run_time, env={"DASHBOARD_TASKS": tasks, "DASHBOARD_WAIT": str(wait)},
                      name=name or f"dashboard-{tasks.replace(',', '+')}")


def ps_row(ctx, ps: str, service: str) -> str:
    """The row of `service`'s own container in `docker ps` output (NAMES is the last column): the
    runbook's `--filter name=redis` matches by substring, so other lanes' lane1-redis rows show too."""
    name = ctx.stack.container(service)
    return next((line for line in ps.splitlines() if line.split()[-1:] == [name]), "")


def never_fired(ctx, alertname: str, since: float) -> str:
    """ALERTS history: `alertname` was never pending or firing since `since`."""
    expr = f'max_over_time(ALERTS{{alertname="{alertname}"}}[{since_range(since)}])'
    samples = ctx.prometheus.query(expr)
    require(not samples, f"{alertname} was active during the drill", expected=f"{alertname} never pending or firing",
            seen=", ".join(f"{s.labels.get('alertstate')} {s.labels}" for s in samples))
    return f"{expr} is empty"


def served_quickly(ctx, path: str, *, under: float, headers: dict | None = None) -> str:
    """One request to `path` answers 200 within `under` seconds."""
    start = time.monotonic()
    resp = httpx.get(f"{ctx.endpoints.backend}{path}", timeout=under + 5, headers=headers or {})
    took = time.monotonic() - start
    require(resp.status_code == 200 and took < under, f"GET {path} not served normally after recovery",
            expected=f"200 within {under:g}s", seen=f"{resp.status_code} in {took:.2f}s: {resp.text[:200]}")
    return f"GET {path} -> 200 in {took * 1000:.0f} ms"


def signal_list_served(ctx, under: float = 1.0) -> str:
    """A trader logs in and the dashboard's signal list (GET /api/v1/signals) answers 200 in time."""
    from scenarios.platform.client import PlatformClient

    client = PlatformClient(ctx.endpoints.backend, source_address="127.0.0.30")
    try:
        token = client.login()
    finally:
        client.close()
    return served_quickly(ctx, "/api/v1/signals?limit=20", under=under, headers={
        "Authorization": f"Bearer {token}"})


def device_listings(ctx, *, per_second: float, source_address: str = "127.0.0.31") -> Paced:
    """A trader's settings page listing their devices (GET /devices, which nothing else calls during a
    drill), logged in before the fault, `per_second` listings from their own address: a second endpoint
    whose requests need the database like the drilled one."""
    client = PlatformClient(ctx.endpoints.backend, source_address=source_address)
    client.login()
    return Paced("device-listings", lambda _: str(client.devices().status_code), per_second=per_second,
                 max_seconds=300, on_stop=client.close).start()
