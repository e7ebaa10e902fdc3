"""The label domain (scenarios/platform/label_domain.yml) is the backend's: every API path of its
/openapi.json is in it (without /api/v1), and every `route` or `endpoint` value its /metrics shows after
requests to every path, a path it does not serve included, is in it. The fast tier holds every value of
the domain to the promises; this test keeps the domain honest."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.platform

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "scenarios" / "platform" / "label_domain.yml").read_text())
API = "/api/v1"


def test_every_api_path_is_in_the_domain(backend):
    paths = httpx.get(backend.url + "/openapi.json", timeout=10).json()["paths"]
    api = {p.removeprefix(API) for p in paths if p.startswith(API + "/")}
    assert api and api <= set(DOMAIN["endpoint"]), f"paths the domain lacks: {sorted(api - set(DOMAIN['endpoint']))}"
    others = {p for p in paths if not p.startswith(API + "/")}
    assert others <= set(DOMAIN["endpoint"]), f"non-API paths the domain lacks: {sorted(others - set(DOMAIN['endpoint']))}"


def test_every_label_value_the_backend_exports_is_in_the_domain(backend):
    filled = {"{signal_id}": "1", "{device_id}": "nope", "{instrument}": "EURUSD"}
    with httpx.Client(base_url=backend.url, timeout=10) as client:
        api = {p.removeprefix(API) for p in client.get("/openapi.json").json()["paths"] if p.startswith(API + "/")}
        for path in DOMAIN["endpoint"]:
            url = "/no/such/page" if path == "unmatched" else (API + path if path in api else path)
            for k, v in filled.items():
                url = url.replace(k, v)
            client.get(url)
        text = client.get("/metrics").text
    seen = {}
    for line in text.splitlines():
        for label in ("route", "endpoint"):
            marker = f'{label}="'
            if not line.startswith("#") and marker in line:
                seen.setdefault(label, set()).add(line.split(marker, 1)[1].split('"', 1)[0])
    assert seen.get("route"), "no route label in /metrics: this test would prove nothing"
    for label, values in seen.items():
        assert values <= set(DOMAIN[label]), f"{label} values outside the domain: {sorted(values - set(DOMAIN[label]))}"
