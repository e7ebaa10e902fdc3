"""The reference platform's API as its users (the dashboard, Stripe, an EA) call it, and where its own
services listen. Nothing here imports the platform: requests are built and signed from the API's
published rules."""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

import httpx

DEMO_USER = ("trader@example.com", "trader-password")
WEBHOOK_SECRET = "whsec_alertdrill_test"  # the stack's backend/.env default


def generator_url(endpoints) -> str:
    """The signal generator's own API (its ledger and backlog), on the lane's port."""
    return endpoints.url("SIGNAL_GENERATOR_PORT")


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe sends: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class Device:
    device_id: str
    secret: str


class PlatformClient:
    def __init__(self, base_url: str, *, source_address: str | None = None, timeout: float = 10.0) -> None:
        """source_address: the local address the client connects from (any 127.x.y.z on Linux when the
        platform is on 127.0.0.1): the backend knows a client by its TCP peer address, not by a header."""
        transport = httpx.HTTPTransport(local_address=source_address) if source_address else None
        self.source_address = source_address
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)
        self.token: str | None = None

    def close(self) -> None:
        self._http.close()

    def login(self, email: str = DEMO_USER[0], password: str = DEMO_USER[1]) -> str:
        resp = self._http.post("/api/v1/auth/login", json={"email": email, "password": password})
        resp.raise_for_status()
        self.token = resp.json()["access_token"]
        return self.token

    def _auth(self) -> dict[str, str]:
        if self.token is None:
            self.login()
        return {"Authorization": f"Bearer {self.token}"}

    def devices(self) -> httpx.Response:
        """The trader's own EA devices (GET /api/v1/devices), as the dashboard's settings page lists them."""
        return self._http.get("/api/v1/devices", headers=self._auth())

    def register_device(self) -> Device:
        resp = self._http.post("/api/v1/devices", headers=self._auth())
        resp.raise_for_status()
        body = resp.json()
        return Device(body["device_id"], body["secret"])

    def revoke_device(self, device_id: str) -> None:
        self._http.post(f"/api/v1/devices/{device_id}/revoke", headers=self._auth()).raise_for_status()

    # -- EA (HMAC-signed) ------------------------------------------------------------------------
    def ea(self, device: Device, method: str, path: str, body: bytes = b"", *, nonce: str | None = None,
           timestamp: int | None = None) -> httpx.Response:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(12)
        message = f"{method}\n{path}\n{ts}\n{nonce}\n".encode() + body
        sig = hmac.new(device.secret.encode(), message, hashlib.sha256).hexdigest()
        headers = {"X-Device-Id": device.device_id, "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": sig}
        if body:
            headers["Content-Type"] = "application/json"
        return self._http.request(method, path, content=body, headers=headers)

    def ea_poll(self, device: Device, **kw) -> httpx.Response:
        return self.ea(device, "GET", "/api/v1/ea/poll", **kw)

    def ea_ack(self, device: Device, signal_id: int, **kw) -> httpx.Response:
        return self.ea(device, "POST", "/api/v1/ea/ack", json.dumps({"signal_id": signal_id}).encode(), **kw)

    # -- Stripe ------------------------------------------------------------------------------------
    def webhook(self, event: dict, secret: str = WEBHOOK_SECRET) -> httpx.Response:
        payload = json.dumps(event).encode()
        return self._http.post("/api/v1/billing/webhook", content=payload, headers={
            "Content-Type": "application/json", "Stripe-Signature": stripe_signature(payload, secret)})


def checkout_event(amount: int = 4900, customer: str = "cus_alertdrill") -> dict:
    """A checkout.session.completed event with a fresh id, shaped as Stripe sends it."""
    return {
        "id": "evt_" + secrets.token_hex(12),
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {"object": {"id": "cs_" + secrets.token_hex(8), "object": "checkout.session",
                            "customer": customer, "amount_total": amount}},
    }


def reject_newest(client: PlatformClient, count: int) -> list[int]:
    """A trader clearing their queue: the `count` newest pending signals rejected, one after another."""
    resp = client._http.get("/api/v1/approvals", params={"status": "pending", "limit": count}, headers=client._auth())
    resp.raise_for_status()
    rejected = []
    for row in resp.json()["approvals"]:
        decided = client._http.post(f"/api/v1/approvals/{row['id']}", json={"decision": 0}, headers=client._auth())
        if decided.status_code == 201:
            rejected.append(int(row["id"]))
    return rejected
