"""Helpers shared by the locustfiles in this folder (no User classes here, so locust never runs this file).

Locust puts a locustfile's folder on sys.path while importing it, so `import _shared` works from
`locust -f locustfiles/<file>.py`. Nothing here runs at import: configuration is read when a user starts.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import secrets
import time

from alertdrill.target.platform import DEMO_USER

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

_counters: dict[str, itertools.count] = {}


def client_address(block: str, override_env: str, *, skip: tuple[str, ...] = ()) -> str:
    """The X-Forwarded-For address of one user instance.

    `override_env` set -> that address (every user of the class shares it). Otherwise the next free host
    of the documentation /24 `block` (e.g. "203.0.113"), counted per process and per block, skipping
    `skip`; past the /24 it continues in the RFC 2544 benchmarking range 198.19.0.0/16. The backend
    rate-limits per address and route, so each user gets its own budget.
    """
    fixed = os.environ.get(override_env, "").strip()
    if fixed:
        return fixed
    counter = _counters.setdefault(block, itertools.count())
    while True:
        n = next(counter)
        if n < 254:
            addr = f"{block}.{n + 1}"
        else:
            m = n - 254
            addr = f"198.19.{(m // 254) % 256}.{m % 254 + 1}"
        if addr not in skip:
            return addr


def with_address(user, address: str) -> None:
    user.client.headers["X-Forwarded-For"] = address
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
