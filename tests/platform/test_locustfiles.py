"""The load profiles (locustfiles/) run through alertdrill.load.LocustLoad against the throwaway backend.

Locust is never imported here (it monkeypatches with gevent on import): LocustLoad runs it as a subprocess.
Each run is a few seconds with 2-3 users; stats come from the reporter LocustLoad loads beside the locustfile.
"""
from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import pytest

from alertdrill.load.locust import LoadStats, LocustLoad, user_classes_in

pytestmark = pytest.mark.platform

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILES = REPO / "locustfiles"


def load(tmp_path: Path, file: str, url: str, *, users: int = 2, run_time: float = 30, **kw) -> LocustLoad:
    return LocustLoad(LOCUSTFILES / file, host=url, users=users, spawn_rate=users, run_time=run_time,
                      out_dir=tmp_path / "load", **kw)


def log_tail(ld: LocustLoad, chars: int = 3000) -> str:
    """The end of a load's log, for a failure message."""
    try:
        return ld.log_path.read_text(errors="replace")[-chars:] if ld.log_path else ""
    except OSError:
        return ""


def run_for(ld: LocustLoad, seconds: float) -> LoadStats:
    """Start, let it run `seconds`, stop with SIGTERM (the mid-run path a drill uses), return its stats."""
    with ld:
        time.sleep(seconds)
    assert not ld.running
    stats = ld.stats
    assert stats is not None and stats.source == "report", f"{stats}\n{log_tail(ld)}"
    return stats


def no_failures(stats: LoadStats, ld: LocustLoad) -> None:
    assert stats.requests() > 0, f"no requests made\n{stats}\n{log_tail(ld)}"
    assert stats.failures() == 0, f"failures:\n{stats}\n{log_tail(ld)}"
    assert not stats.exceptions, f"exceptions in users:\n{stats}\n{log_tail(ld)}"


# ------------------------------------------------------------------ LocustLoad itself
def test_locustload_validates_arguments(tmp_path):
    f = LOCUSTFILES / "flood.py"
    ok = dict(host="http://127.0.0.1:9", users=1, spawn_rate=1, run_time=1)
    assert user_classes_in(f) == ["FloodUser", "NormalUser"]
    assert user_classes_in(LOCUSTFILES / "_shared.py") == []
    with pytest.raises(ValueError, match=r"not found; the locustfiles in .*locustfiles: dashboard\.py"):
        LocustLoad(LOCUSTFILES / "nope.py", **ok)
    with pytest.raises(ValueError, match=r"users=0: expected an integer >= 1"):
        LocustLoad(f, **{**ok, "users": 0})
    for bad in (0, -1, None, float("inf")):
        with pytest.raises(ValueError, match=r"run_time=.*expected a number of seconds > 0"):
            LocustLoad(f, **{**ok, "run_time": bad})
    with pytest.raises(ValueError, match=r"spawn_rate=0: expected a number > 0"):
        LocustLoad(f, **{**ok, "spawn_rate": 0})
    with pytest.raises(ValueError, match=r"expected an http\(s\) URL"):
        LocustLoad(f, **{**ok, "host": "127.0.0.1:8000"})
    with pytest.raises(ValueError,
                       match=r"user class\(es\) DashboardUser not in flood\.py; valid: FloodUser, NormalUser"):
        LocustLoad(f, **ok, user_classes=["DashboardUser"])
    with pytest.raises(ValueError, match=r"defines no User class"):
        LocustLoad(LOCUSTFILES / "_shared.py", **ok)
    # relative to the project root works from any cwd; fractional run_time rounds up to whole seconds
    ld = LocustLoad("locustfiles/flood.py", **{**ok, "run_time": 2.2}, user_classes=["NormalUser"])
    assert ld.run_seconds == 3 and "--run-time" in ld.command() and ld.command()[-1] == "NormalUser"
    with pytest.raises(RuntimeError, match="never started"):
        ld.stop()


def test_exit_leaves_no_locust_behind(tmp_path, h):
    # Nothing listens on this free loopback port: every request fails fast, which is fine here.
    url = f"http://127.0.0.1:{h.free_port()}"
    ld = load(tmp_path, "dashboard.py", url, users=1, run_time=120)
    with pytest.raises(RuntimeError, match="boom"):
        with ld:
            assert ld.running
            # once locust is up (its SIGTERM handler installed), fail inside the block
            _wait_for(lambda: "All users spawned" in log_tail(ld, 100_000), 20, "locust to spawn its user")
            time.sleep(0.5)
            raise RuntimeError("boom")
    assert not ld.running and ld.proc.poll() is not None  # exited and reaped
    assert ld.stats is not None and ld.stats.returncode == 1  # locust exits 1 when any request failed
    assert ld.stats.failures() == ld.stats.requests() > 0  # connection refused: all failures
    assert ld.stop() is ld.stats  # idempotent


# ------------------------------------------------------------------ the profiles
def test_dashboard(tmp_path, backend, redis_alive, vendor):
    vendor.reset()
    ld = load(tmp_path, "dashboard.py", backend.url, users=3, env={"DASHBOARD_WAIT": "0.2"})
    stats = run_for(ld, 4)
    no_failures(stats, ld)
    # market has weight 1 of 6: it may be missed by a short run; the run below aims at it
    for name in ("/auth/login", "/signals", "/approvals"):
        assert stats.requests(name) > 0, stats
    assert set(stats.names) <= {"/auth/login", "/signals", "/approvals", "/market/{instrument}"}, stats
    assert stats.requests("/auth/login") == 3, stats  # one login per user
    assert stats.rows["/signals"]["median_ms"] is not None and stats.rows["Aggregated"]["rps"] > 0
    assert stats.returncode == 0

    # DASHBOARD_TASKS aims the load at one route (wait() lets run_time end it)
    ld = load(tmp_path, "dashboard.py", backend.url, users=1, run_time=2,
              env={"DASHBOARD_WAIT": "0.2", "DASHBOARD_TASKS": "market"})
    stats = ld.start().wait()
    no_failures(stats, ld)
    assert stats.names == ["/auth/login", "/market/{instrument}"], stats


def test_reviewers(tmp_path, backend, client, pg_conn, h):
    for i in range(12):
        h.new_signal(client, quality=round(0.05 + i * 0.08, 2))
    t0 = pg_conn.execute("SELECT now()").fetchone()[0]
    ld = load(tmp_path, "reviewers.py", backend.url, users=2,
              env={"REVIEW_WAIT": "0.3", "REVIEW_BATCH": "5", "REVIEW_MIN_QUALITY": "0.5"})
    stats = run_for(ld, 4)
    no_failures(stats, ld)
    rows = pg_conn.execute("SELECT s.quality, a.decision FROM approvals a JOIN signals s ON s.id = a.signal_id"
                           " WHERE a.created_at >= %s", (t0,)).fetchall()
    assert rows, f"no approvals recorded\n{stats}"
    assert stats.requests("/approvals/{signal_id}") >= len(rows)
    assert all(d == (1 if float(q) >= 0.5 else 0) for q, d in rows), rows


def test_reviewers_skip_stale_signals_with_a_max_age(tmp_path, backend, client, pg_conn, h):
    stale = [h.new_signal(client, quality=0.9) for _ in range(4)]
    ids = [s["id"] for s in stale]
    pg_conn.execute("UPDATE signals SET created_at = now() - interval '1 hour' WHERE id = ANY(%s)", (ids,))
    fresh = [h.new_signal(client, quality=0.9) for _ in range(4)]
    fresh_ids = [s["id"] for s in fresh]
    ld = load(tmp_path, "reviewers.py", backend.url, users=2,
              env={"REVIEW_WAIT": "0.3", "REVIEW_BATCH": "5", "REVIEW_MAX_AGE": "600"})
    no_failures(run_for(ld, 3), ld)
    decided = {r[0] for r in pg_conn.execute("SELECT signal_id FROM approvals WHERE signal_id = ANY(%s)",
                                             (ids + fresh_ids,)).fetchall()}
    assert decided == set(fresh_ids), f"decided {sorted(decided)}: fresh {fresh_ids}, an hour old {ids}"


def _register(client: httpx.Client, auth: dict) -> tuple[str, str]:
    r = client.post("/api/v1/devices", headers=auth)
    assert r.status_code == 201, r.text
    return r.json()["device_id"], r.json()["secret"]


def _ack_lines(path: Path) -> list[tuple[str, int, int, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        dev, sid, status, dup = line.split()
        out.append((dev, int(sid), int(status), dup))
    return out


def _wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_ea_fleet_acks_exactly_once_and_follows_credentials_file(tmp_path, backend, client, auth, pg_conn, h):
    creds, ack_log = tmp_path / "ea-creds.json", tmp_path / "acks.log"
    d1, d2 = _register(client, auth), _register(client, auth)
    creds.write_text(json.dumps(dict([d1, d2])))
    first = [h.new_signal(client)["id"] for _ in range(4)]
    ea = load(tmp_path, "ea_fleet.py", backend.url, users=2,
              env={"EA_CREDENTIALS_FILE": str(creds), "EA_ACK_LOG": str(ack_log), "EA_WAIT": "0.3"})
    # a broken EA beside it (self-registered device, one nonce for everything)
    broken = load(tmp_path, "ea_fleet.py", backend.url, users=1, env={"EA_REPLAY_NONCES": "1", "EA_WAIT": "0.3"},
                  name="ea-broken")
    replays0 = backend.metric("ea_errors_total", {"endpoint": "/ea/poll", "error_type": "nonce_replay"})
    with ea, broken:
        _wait_for(lambda: {(d, s) for d, s, _, dup in _ack_lines(ack_log) if dup == "false"}
                  >= {(d, s) for d in (d1[0], d2[0]) for s in first}, 8, "both devices to ack the first signals")
        # remediation: a new device replaces both in the file; the running EAs pick it up
        d3 = _register(client, auth)
        creds.write_text(json.dumps(dict([d3])))
        later = [h.new_signal(client)["id"] for _ in range(2)]
        _wait_for(lambda: {s for d, s, _, dup in _ack_lines(ack_log) if d == d3[0] and dup == "false"} >= set(later),
                  8, "the new device to ack the later signals")
        _wait_for(lambda: backend.metric("ea_errors_total", {"endpoint": "/ea/poll", "error_type": "nonce_replay"})
                  > replays0, 8, "the broken EA's replayed nonces to be refused")
    stats = ea.stats
    no_failures(stats, ea)
    assert stats.requests("/ea/poll") > 0 and stats.requests("/ea/ack") >= 4 * 2 + 2
    lines = _ack_lines(ack_log)
    assert all(status == 200 and dup in ("true", "false") for _, _, status, dup in lines), lines
    first_acks = [(d, s) for d, s, _, dup in lines if dup == "false"]
    assert len(first_acks) == len(set(first_acks)), "a (device, signal) acknowledged twice as new"
    db = {(d, s) for d, s in pg_conn.execute(
        "SELECT device_id, signal_id FROM ea_acks WHERE device_id = ANY(%s)", ([d1[0], d2[0], d3[0]],)).fetchall()}
    assert db == set(first_acks), (db ^ set(first_acks))
    assert stats.requests("/ea/ack") == len(lines)  # every 200 ack answer logged, nothing else

    bstats = broken.stats
    assert bstats.requests("/devices") == 1 and bstats.failures("/devices") == 0, bstats
    assert bstats.failures("/ea/poll") >= 1, bstats
    assert any("nonce already used" in str(e.get("error")) for e in bstats.errors), bstats.errors
    assert backend.metric("ea_errors_total", {"endpoint": "/ea/poll", "error_type": "nonce_replay"}) > replays0


def test_flood_is_limited_and_normal_clients_are_not(tmp_path, make_backend, redis_alive, h):
    be = make_backend(dotenv={"RATE_LIMIT_PER_MINUTE": "30"})
    flood_ip = f"127.66.0.{200 + secrets.randbelow(50)}"
    ld = load(tmp_path, "flood.py", be.url, users=3, env={"FLOOD_IP": flood_ip, "FLOOD_RPS": "40",
                                                          "NORMAL_RPS": "2"})
    stats = run_for(ld, 4.5)
    path = "/api/v1/signals?limit=5"
    assert stats.users == {"FloodUser": 1, "NormalUser": 2}, stats  # fixed_count = 1
    flooded = stats.requests(f"[flood] {path}")
    assert flooded > 2 * 30, stats  # over the limit even if the run straddles a minute boundary
    assert stats.requests(f"[normal] {path}") > 0, stats
    no_failures(stats, ld)  # the flood's 429s are successes, and no normal client was limited
    blocked = be.metric("ratelimit_block_total", {"route": "/signals"})
    assert flooded - 2 * 30 <= blocked <= flooded, (blocked, stats)
    limited = {line.split("ip=")[1].split()[0] for line in be.logs().splitlines()
               if "rate_limit" in line and "ip=" in line and "failing open" not in line}
    assert limited == {flood_ip}, limited


def test_webhooks_replay_and_fresh(tmp_path, backend, redis_alive, pg_conn):
    event_id = "evt_locust_" + secrets.token_hex(6)
    m = {o: backend.metric("webhook_events_total", {"outcome": o}) for o in ("processed", "replay_attack")}
    fresh_before = pg_conn.execute("SELECT count(*) FROM payments WHERE customer = 'cus_alertdrill_load'").fetchone()[0]
    replay = load(tmp_path, "webhooks.py", backend.url, users=2,
                  env={"WEBHOOK_MODE": "replay", "WEBHOOK_EVENT_ID": event_id, "WEBHOOK_RPS": "4"}, name="replay")
    fresh = load(tmp_path, "webhooks.py", backend.url, users=2, env={"WEBHOOK_MODE": "fresh", "WEBHOOK_RPS": "3"},
                 name="fresh")
    with replay, fresh:
        time.sleep(4)
    rs, fs = replay.stats, fresh.stats
    no_failures(rs, replay)
    no_failures(fs, fresh)
    sent = rs.requests("/billing/webhook")
    assert sent >= 5
    grew = backend.metric("webhook_events_total", {"outcome": "replay_attack"}) - m["replay_attack"]
    assert grew == sent - 1, (grew, sent)
    assert pg_conn.execute("SELECT count(*) FROM payments WHERE event_id = %s", (event_id,)).fetchone()[0] == 1
    fresh_rows = pg_conn.execute("SELECT count(*) FROM payments WHERE customer = 'cus_alertdrill_load'"
                                 ).fetchone()[0] - fresh_before
    assert fresh_rows == fs.requests("/billing/webhook") > 0
    assert backend.metric("webhook_events_total", {"outcome": "processed"}) - m["processed"] == fresh_rows + 1
