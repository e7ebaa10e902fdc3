"""Passwords (scrypt), JWTs (HS256 with a session id) and the Redis-backed session check."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt
from fastapi import HTTPException, Request

from .config import get_settings
from .logging import log
from .redis import REDIS_ERRORS, rds
from .util import storable

_N, _R, _P = 2 ** 14, 8, 1


def is_signal_producer(api_key: str | bytes | None) -> bool:
    """`api_key` (an X-API-Key value) is the signal producer's SIGNAL_API_KEY (compared in constant time)."""
    if not api_key:
        return False
    given = api_key.encode() if isinstance(api_key, str) else api_key
    return hmac.compare_digest(given, get_settings().signal_api_key.encode())


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${dk.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt_hex, dk_hex = stored.split("$")
        if algo != "scrypt":
            return False
        dk = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p),
                            dklen=len(dk_hex) // 2)
        return hmac.compare_digest(dk.hex(), dk_hex)
    except (ValueError, TypeError):
        return False


# What a login for an unknown email is checked against: both answers cost one scrypt, so the response time does
# not tell which accounts exist. The password is random and discarded: nothing matches it.
DUMMY_PASSWORD_HASH = hash_password(secrets.token_urlsafe(32))


def create_token(user_id: str, sid: str) -> str:
    s = get_settings()
    now = int(time.time())
    payload = {"sub": user_id, "sid": sid, "iat": now, "exp": now + s.session_ttl_seconds}
    return jwt.encode(payload, s.jwt_secret, algorithm="HS256")


@dataclass
class CurrentUser:
    user_id: str
    sid: str


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_user(request: Request) -> CurrentUser:
    """Bearer JWT AND a live session:<sid> in Redis."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token")
    try:
        claims = jwt.decode(token.strip(), get_settings().jwt_secret, algorithms=["HS256"],
                            options={"require": ["exp", "sub", "sid"]})
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired")
    except jwt.PyJWTError:
        raise _unauthorized("invalid token")
    sid, sub = str(claims["sid"]), str(claims["sub"])
    if not storable(sid) or not storable(sub):
        raise _unauthorized("invalid token")
    try:
        owner = await rds.client.get(f"session:{sid}")  # bounded by the client's 1 s socket timeouts
    except REDIS_ERRORS as exc:
        log.error("auth session store unavailable", route=request.url.path, error=type(exc).__name__)
        raise HTTPException(status_code=503, detail="session store unavailable")
    if owner is None or owner != sub:
        raise _unauthorized("session expired or revoked")
    return CurrentUser(user_id=sub, sid=sid)
