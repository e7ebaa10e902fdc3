"""EAPollErrors (warning): a fleet of EAs loses its credentials.

Four MT5 expert advisors poll and acknowledge signals, each signing with its device secret (HMAC, fresh
nonces). The device secrets are rotated server-side: every poll now fails as invalid_signature (about
4 errors/s). Runbook: the error-breakdown query and the "HMAC ... invalid" log lines show the error type;
remediation "Stale device credentials: revoke the device and register it again" for each device, the new
secrets entered into the EAs. Invariant: every signal acknowledged is stored exactly once.

The runbook's "one device replaying or misconfigured: block its address" is drilled too,
[replaying_device]: one EA at its own address sends the same signed poll again every second (a nonce
already used: 409 nonce_replay), one error a second; the runbook's denylist stops it before it is checked.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from alertdrill.engine.context import DrillContext
from alertdrill.engine.drill import Drill
from alertdrill.engine.evidence import logs_show, runbook_query, sql_rows, top_label, wait_for
from alertdrill.engine.expectation import AlertExpectation
from alertdrill.engine.faults import Fault, LoadFault
from alertdrill.engine.guards import EnvFileGuard
from alertdrill.engine.remediations import Remediation, RunbookAction
from alertdrill.errors import require
from alertdrill.load.locust import LocustLoad
from alertdrill.load.paced import Paced

from scenarios.platform.client import PlatformClient

pytestmark = pytest.mark.drill

REPLAYER = "127.0.0.41"  # the replaying device's own address: the one the denylist blocks
EXPECTATION = AlertExpectation.from_runbook(
    "EAPollErrors",
    watch="sum(rate(ea_errors_total[5m]))",
)


class RotateDeviceSecrets(Fault):
    """The devices' secrets change server-side (a botched key rotation); heal puts the old ones back on
    devices that still carry a rotated secret."""

    name = "rotate device secrets"

    def __init__(self, device_ids: list[str]) -> None:
        self.device_ids, self.old, self.new = device_ids, {}, {}

    def inject(self, ctx: DrillContext) -> str:
        dsn = ctx.endpoints.postgres_dsn
        self.old = dict(sql_rows(dsn, "SELECT device_id, secret FROM devices WHERE device_id = ANY(%s)",
                                 (self.device_ids,)))
        for device_id in self.device_ids:
            self.new[device_id] = secrets.token_hex(32)
            sql_rows(dsn, "UPDATE devices SET secret = %s WHERE device_id = %s RETURNING device_id",
                     (self.new[device_id], device_id))
        return f"UPDATE devices SET secret = <new> for {len(self.device_ids)} devices"

    def heal(self, ctx: DrillContext) -> str:
        restored = 0
        for device_id, secret in self.old.items():
            restored += len(sql_rows(ctx.endpoints.postgres_dsn, "UPDATE devices SET secret = %s WHERE device_id = %s AND secret = %s "
                                               "RETURNING device_id", (secret, device_id, self.new[device_id])))
        return f"restored {restored} device secrets" if restored else ""


class ReRegisterDevices(Remediation):
    """The runbook's revoke-and-register action for each device, the new credentials entered in the EAs
    (their credentials file, which the running EAs re-read)."""

    def __init__(self, creds_file: Path) -> None:
        self.creds_file = creds_file

    def apply(self, ctx: DrillContext) -> str:
        old = json.loads(self.creds_file.read_text())
        new = {}
        for device_id in old:
            action = RunbookAction("EAPollErrors", "register it again", env={"DEVICE_ID": device_id})
            script = action.apply(ctx)
            device = json.loads(action.output.strip().splitlines()[-1])
            new[device["device_id"]] = device["secret"]
        tmp = self.creds_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(new))
        tmp.replace(self.creds_file)
        return f"{script}\n(for each of {len(old)} devices; the new secrets written to the EAs' {self.creds_file.name})"


def acks_exactly_once(ctx: DrillContext, ack_log: Path) -> str:
    lines = [l.split() for l in ack_log.read_text().splitlines() if l.strip()]
    firsts = {(l[0], int(l[1])) for l in lines if l[3] == "false"}
    devices = sorted({d for d, _ in firsts})
    rows = sql_rows(ctx.endpoints.postgres_dsn, "SELECT device_id, signal_id, count(*) FROM ea_acks "
                    "WHERE device_id = ANY(%s) GROUP BY device_id, signal_id", (devices,))
    stored = {(d, s): n for d, s, n in rows}
    require(stored.keys() == firsts and all(n == 1 for n in stored.values()),
            "EA acknowledgements were lost or applied twice", expected="one ea_acks row per first acknowledgement",
            seen=f"{len(firsts)} acknowledged, {len(stored)} rows, missing {sorted(firsts - stored.keys())[:5]}, "
                 f"unexpected {sorted(stored.keys() - firsts)[:5]}")
    return f"{len(firsts)} signals acknowledged by {len(devices)} devices, each stored once"


def stale_credentials(d: Drill, ctx: DrillContext) -> None:
    client = PlatformClient(ctx.endpoints.backend, source_address="127.0.0.40")
    devices = [client.register_device() for _ in range(4)]
    client.close()
    creds, ack_log = d.workdir / "ea-credentials.json", d.workdir / "ea-acks.log"
    creds.write_text(json.dumps({x.device_id: x.secret for x in devices}))
    ack_log.write_text("")
    d.steady_state()
    d.workload(LocustLoad("locustfiles/ea_fleet.py", host=ctx.endpoints.backend, users=4, spawn_rate=4,
                          run_time=300, name="ea-fleet",
                          env={"EA_CREDENTIALS_FILE": str(creds), "EA_ACK_LOG": str(ack_log), "EA_WAIT": "1"}),
               warmup=8)
    d.inject(RotateDeviceSecrets([x.device_id for x in devices]))
    began = d.timeline.last("injected").at
    d.expect_firing()
    d.investigate("the error breakdown shows invalid_signature", lambda: top_label(
        ctx.prometheus, runbook_query(ctx, "EAPollErrors", "ea_errors_total"), "error_type", "invalid_signature"))
    d.investigate("HMAC ... invalid lines in the backend log", lambda: wait_for(
        lambda: logs_show(ctx, "backend", began, "HMAC", "invalid"), 10))
    d.remediate(ReRegisterDevices(creds))
    d.expect_resolved()
    d.stop_workload()
    d.invariant("every acknowledged signal stored exactly once", lambda: acks_exactly_once(ctx, ack_log))


def replaying_device(d: Drill, ctx: DrillContext) -> None:
    client = PlatformClient(ctx.endpoints.backend, source_address=REPLAYER)
    device = client.register_device()
    d.steady_state()
    nonce = secrets.token_hex(12)
    require(client.ea_poll(device, nonce=nonce).status_code == 200, "the device's first poll was refused",
            expected="200 for a fresh nonce", seen="another answer")
    # The same nonce every second: the backend has seen it, so each poll is an ea_errors_total nonce_replay.
    replays = Paced("replayed-polls", lambda _: str(client.ea_poll(device, nonce=nonce).status_code),
                    per_second=1.0, max_seconds=300, on_stop=client.close)
    d.inject(LoadFault(replays, f"one EA at {REPLAYER} sending its last signed poll again every second"))
    d.expect_firing()
    d.investigate("the error breakdown shows nonce_replay", lambda: top_label(
        ctx.prometheus, runbook_query(ctx, "EAPollErrors", "ea_errors_total"), "error_type", "nonce_replay"))
    d.guard(EnvFileGuard("backend", "backend/denylist.txt"))
    d.remediate(RunbookAction("EAPollErrors", "block its address", env={"ABUSIVE_IP": REPLAYER}))
    d.expect_resolved()
    require(replays.outcomes.get("403", 0) > 0, "the replaying device was never refused by the denylist",
            expected="403 answers after the remediation", seen=str(dict(replays.outcomes)))


SITUATIONS = {"stale_credentials": stale_credentials, "replaying_device": replaying_device}


def run(d: Drill, ctx: DrillContext, situation: str = "stale_credentials") -> None:
    """The drill, also run by tests/drill against deliberately broken alerting."""
    SITUATIONS[situation](d, ctx)


@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_EAPollErrors(drill, situation):
    drill(run, EXPECTATION, situation=situation)
