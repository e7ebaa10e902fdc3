"""Benign noise against the reference platform, for the quiet drills: what the busy internet does all day
and nobody should be woken for. Each function is one request, returning a short outcome word for
alertdrill.load.paced.Paced to count; the addresses are loopback ones of their own (127.0.0.70-79), so the
platform's per-address rate limit sees one client per stream.
"""
from __future__ import annotations

import random
import socket
import string
import time
from urllib.parse import urlsplit

import httpx


HANG_UP_BODY = b'{"id": "evt_'  # a body cut short: the client promised 400 bytes and hangs up after 12


def hang_up(base_url: str, path: str, *, source: str, headers: dict[str, str] | None = None) -> str:
    """A client that sends its headers with a Content-Length, part of the body, then hangs up (a phone
    losing signal mid-upload, a proxy timing out)."""
    url = urlsplit(base_url)
    head = {"Host": url.netloc, "Content-Type": "application/json", "Content-Length": "400", **(headers or {})}
    text = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    with socket.create_connection((url.hostname, url.port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\n{text}\r\n".encode("latin-1") + HANG_UP_BODY)
        time.sleep(0.05)  # the server has the request under way: it is the body that goes missing
    return "hung up"


class Crawler:
    """A crawler from one address: paths that do not exist (404), and the dashboard's API with a token that
    is not one (401), in turn."""

    def __init__(self, base_url: str, *, source: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=5.0, transport=httpx.HTTPTransport(local_address=source))
        self._rng = random.Random(7)

    def __call__(self, i: int) -> str:
        if i % 2:
            token = "".join(self._rng.choices(string.ascii_letters + string.digits, k=32))
            resp = self._http.get("/api/v1/signals?limit=20", headers={"Authorization": f"Bearer {token}"})
        else:
            word = "".join(self._rng.choices(string.ascii_lowercase, k=8))
            resp = self._http.get(self._rng.choice(("/", "/api/v1/")) + f"{word}.php")
        return str(resp.status_code)

    def stop(self) -> None:
        self._http.close()
