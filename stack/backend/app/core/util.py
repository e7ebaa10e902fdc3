from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Optional

from fastapi import HTTPException, Request
from fastapi.routing import APIRoute
from pydantic import AfterValidator
from starlette.responses import Response

from .config import get_settings


def jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if isinstance(v, datetime):
            v = v.isoformat()
        elif isinstance(v, Decimal):
            v = float(v)
        out[k] = v
    return out


def json_rows_sql(select: str, order: str) -> str:
    """`select` wrapped so Postgres returns its rows as one JSON array text (and their count): the hot
    list endpoints pass it through as the response body instead of building and encoding dicts row by row.
    Same keys in the same order, timestamps in ISO 8601 like datetime.isoformat()."""
    return (f"SELECT count(*) AS n, coalesce(json_agg(t ORDER BY t.{order}), '[]')::text AS rows"
            f" FROM ({select}) t")


def json_body(*parts: bytes | str) -> Response:
    return Response(b"".join(p.encode() if isinstance(p, str) else p for p in parts), media_type="application/json")


# ------------------------------------------------------------------ JSON bodies
# No request of ours nests beyond a handful of levels (a Stripe event about ten); deeper input is refused before
# any code walks it recursively (json.loads raises RecursionError near 1000 levels, str() or pydantic later).
MAX_JSON_DEPTH = 64


class JSONTooDeep(ValueError):
    pass


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def parse_json(body: bytes | str) -> Any:
    """json.loads with a bounded nesting depth. ValueError for anything else than JSON (JSONDecodeError,
    UnicodeDecodeError) or JSONTooDeep for more than MAX_JSON_DEPTH nested arrays/objects."""
    try:
        value = json.loads(body)
    except RecursionError:
        value = None
    else:
        if not _too_deep(value):
            return value
    raise JSONTooDeep(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")


class BoundedJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = parse_json(await self.body())
            except JSONTooDeep as exc:
                # FastAPI passes an HTTPException through (any other error becomes a reasonless 400)
                raise HTTPException(status_code=400, detail=f"invalid body: {exc}") from None
        return self._json


class BoundedJSONRoute(APIRoute):
    """Every router's route class: the JSON bodies FastAPI parses for the models go through parse_json."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def bounded(request: Request):
            return await handler(BoundedJSONRequest(request.scope, request.receive, request._send))

        return bounded


# ------------------------------------------------------------------ text the database can store
def storable(text: str) -> bool:
    """False for text PostgreSQL cannot store or UTF-8 cannot encode: NUL bytes, lone surrogates."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable(text: str) -> str:
    if not storable(text):
        raise ValueError("must not contain NUL bytes or unpaired surrogates")
    return text


# A str field/parameter that reaches the database: refused with 422 (and a reason) when unstorable.
SafeStr = Annotated[str, AfterValidator(_storable)]


# ------------------------------------------------------------------ client addresses
@lru_cache(maxsize=4096)
def parse_ip(text: str) -> Optional[str]:
    """The canonical form of an IPv4/IPv6 address (IPv4-mapped IPv6 folded to IPv4), or None."""
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


@lru_cache(maxsize=4096)
def _trusted(addr: str, proxies: tuple) -> bool:
    ip = ipaddress.ip_address(addr)
    return any(ip.version == net.version and ip in net for net in proxies)


def client_ip(scope) -> str:
    """The client's address: the TCP peer, unless the peer is one of TRUSTED_PROXIES.

    Behind trusted proxies X-Forwarded-For is read right to left (each proxy appends the address it saw)
    and the first hop that is not itself a trusted proxy is the client; whatever a client put to the left
    of that is ignored, so it can neither escape the rate limit or the denylist nor frame another address.
    A malformed hop stops the walk at the last proxy that vouched for it.
    """
    client = scope.get("client")
    peer = parse_ip(client[0]) if client else None
    if peer is None:
        return client[0] if client else "unknown"
    proxies = get_settings().trusted_proxies
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops.extend(value.decode("latin-1").split(","))
    addr = peer
    for hop in reversed(hops):
        ip = parse_ip(hop)
        if ip is None:
            break
        addr = ip
        if not _trusted(ip, proxies):
            break
    return addr
