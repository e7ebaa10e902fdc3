"""Thin clients for what the suite talks to: Prometheus, Alertmanager, the alert sink, Toxiproxy, Docker."""
from .alertmanager import AlertmanagerClient
from .docker import DockerClient
from .prometheus import PrometheusClient
from .sink import SinkClient
from .toxiproxy import ToxiproxyClient

__all__ = ["AlertmanagerClient", "DockerClient", "PrometheusClient", "SinkClient", "ToxiproxyClient"]
