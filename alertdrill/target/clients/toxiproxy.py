"""Toxiproxy's HTTP API (https://github.com/Shopify/toxiproxy#http-api).

The PyPI clients for it (toxiproxy-python and forks) are unmaintained and speak an older API, so this
is a direct client over httpx: proxies, toxics, enable/disable, reset.
"""
from __future__ import annotations

import httpx

from alertdrill.target.clients.http import HttpApi


class ToxiproxyError(RuntimeError):
    pass


class ToxiproxyClient(HttpApi):
    def _check(self, resp: httpx.Response, what: str) -> httpx.Response:
        if resp.status_code >= 300:
            raise ToxiproxyError(f"toxiproxy {what} -> {resp.status_code}: {resp.text.strip()}")
        return resp

    def proxies(self) -> dict[str, dict]:
        return self._check(self._http.get("/proxies"), "list proxies").json()

    def proxy(self, name: str) -> dict:
        return self._check(self._http.get(f"/proxies/{name}"), f"get proxy {name}").json()

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Disabled: the proxy closes its connections and refuses new ones (a cut link)."""
        self._check(self._http.post(f"/proxies/{name}", json={"enabled": enabled}), f"enable={enabled} {name}")

    def add_toxic(self, proxy: str, name: str, type_: str, attributes: dict,
                  stream: str = "downstream", toxicity: float = 1.0) -> dict:
        body = {"name": name, "type": type_, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        return self._check(self._http.post(f"/proxies/{proxy}/toxics", json=body), f"add toxic {name}").json()

    def remove_toxic(self, proxy: str, name: str) -> None:
        resp = self._http.delete(f"/proxies/{proxy}/toxics/{name}")
        if resp.status_code not in (204, 404):
            self._check(resp, f"remove toxic {name}")

    def toxics(self, proxy: str) -> list[dict]:
        return self._check(self._http.get(f"/proxies/{proxy}/toxics"), f"list toxics {proxy}").json()

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._check(self._http.post("/reset"), "reset")
