"""Helpers shared by the locustfiles in this folder (no User classes here, so locust never runs this file).

Locust puts a locustfile's folder on sys.path while importing it, so `import _shared` works from
`locust -f locustfiles/<file>.py`. Nothing here runs at import: configuration is read when a user starts.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import os
import secrets
import time

from requests.adapters import HTTPAdapter

from scenarios.platform.client import DEMO_USER

API = "/api/v1"

# ------------------------------------------------------------------ configuration (read at user start)


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_float(name: str, default: float, *, minimum: float = 0.0, allow_equal: bool = True) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a number (default {default})") from None
    if value < minimum or (value == minimum and not allow_equal):
        op = ">=" if allow_equal else ">"
        raise ValueError(f"{name}={raw!r}: expected a number {op} {minimum} (default {default})")
    return value


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected an integer >= {minimum} (default {default})") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r}: expected an integer >= {minimum} (default {default})")
    return value


def env_flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name}={raw!r}: expected 1/0 (true/false, yes/no, on/off)")


def env_choice(name: str, default: str, valid: tuple[str, ...]) -> str:
    value = env_str(name, default).lower()
    if value not in valid:
        raise ValueError(f"{name}={value!r}: expected one of {', '.join(valid)} (default {default})")
    return value


def env_list(name: str, valid: tuple[str, ...]) -> list[str]:
    """Comma list restricted to `valid`; empty/unset -> all of them."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return list(valid)
    items = [x.strip().lower() for x in raw.split(",") if x.strip()]
    bad = [x for x in items if x not in valid]
    if bad or not items:
        raise ValueError(f"{name}={raw!r}: unknown {', '.join(bad) or '(empty)'}; valid: {', '.join(valid)}")
    return items


# ------------------------------------------------------------------ client addresses
# The backend sees a client as its TCP peer (X-Forwarded-For counts only from configured trusted proxies,
# none in the reference stack), so each simulated client connects from an address of its own: on Linux any
# 127.x.y.z can be bound as the source of a connection to 127.0.0.1. Each profile has its own 127.N/16.

_counters: dict[str, itertools.count] = {}


def loopback_address(value: str, name: str) -> str:
    """`value` if it is a loopback IPv4 address (the only kind a client here can bind), else ValueError."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a loopback address such as 127.0.0.66") from None
    if ip.version != 4 or not ip.is_loopback:
        raise ValueError(f"{name}={value!r}: expected a loopback address (127.0.0.0/8), such as 127.0.0.66")
    return str(ip)


def client_address(block: str, override_env: str, *, skip: tuple[str, ...] = ()) -> str:
    """The source address of one user instance.

    `override_env` set -> that address (every user of the class shares it). Otherwise the next host of the
    loopback /16 `block` (e.g. "127.3" -> 127.3.0.1, 127.3.0.2, ...), counted per process and per block,
    skipping `skip`. The backend rate-limits per address and route, so each user gets its own budget.
    """
    fixed = os.environ.get(override_env, "").strip()
    if fixed:
        return loopback_address(fixed, override_env)
    counter = _counters.setdefault(block, itertools.count())
    while True:
        n = next(counter)
        addr = f"{block}.{n // 254 % 256}.{n % 254 + 1}"
        if addr not in skip:
            return addr


class SourceAddressAdapter(HTTPAdapter):
    """requests adapter whose connections are made from one local address (source_address=(ip, 0))."""

    def __init__(self, source_ip: str, **kw) -> None:
        self.source_ip = source_ip
        super().__init__(**kw)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)


def with_address(user, address: str) -> None:
    """Make every request of `user` (a locust HttpUser) come from `address`."""
    adapter = SourceAddressAdapter(address)
    user.client.mount("http://", adapter)
    user.client.mount("https://", adapter)
    user.client_address = address


# ------------------------------------------------------------------ login


def login(user, *, expected: tuple[int, ...] = (), name: str = "/auth/login") -> str | None:
    """POST /auth/login with the demo trader (env LOAD_EMAIL / LOAD_PASSWORD override it).

    Returns the bearer token, or None (the request is then recorded as a failure unless its status is
    in `expected`, e.g. an abusive client's 429/403)."""
    email = env_str("LOAD_EMAIL", DEMO_USER[0])
    password = env_str("LOAD_PASSWORD", DEMO_USER[1])
    with user.client.post(f"{API}/auth/login", json={"email": email, "password": password},
                          name=name, catch_response=True) as resp:
        if resp.status_code == 200:
            try:
                token = resp.json()["access_token"]
            except (ValueError, KeyError, TypeError):
                resp.failure("login answered 200 without access_token")
                return None
            resp.success()
            return token
        if resp.status_code in expected:
            resp.success()
        else:
            resp.failure(f"login failed: HTTP {resp.status_code} {resp.text[:120]}")
        return None


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


# ------------------------------------------------------------------ EA signing (the API's published rule)


def ea_headers(device_id: str, secret: str, method: str, path: str, body: bytes = b"", *,
               nonce: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    """Headers of an HMAC-signed EA request: HMAC-SHA256(secret, "METHOD\\nPATH\\nTS\\nNONCE\\n" + body),
    the same rule as alertdrill.platform.PlatformClient.ea."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(12)
    message = f"{method}\n{path}\n{ts}\n{nonce}\n".encode() + body
    sig = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    headers = {"X-Device-Id": device_id, "X-Timestamp": ts, "X-Nonce": nonce, "X-Signature": sig}
    if body:
        headers["Content-Type"] = "application/json"
    return headers
