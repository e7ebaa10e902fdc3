"""What every HTTP client of the suite shares: a base URL, one connection pool, a timeout on every call."""
from __future__ import annotations

import httpx

HTTP_TIMEOUT_S = 5.0


class HttpApi:
    def __init__(self, base_url: str, timeout: float = HTTP_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()
