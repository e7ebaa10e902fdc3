"""A small second platform, written into a temporary folder: one web service exposing one metric, an
alert sink, Prometheus and Alertmanager (this repository's images, alertdrill/prometheus:dev and
alertdrill/alertmanager:dev; the two Python services run in alertdrill/platform:dev), two alerts with a
runbook, its own compose project, container names (each service named as its container) and ports (19xxx),
host networking only.

Nothing in it points into this repository: the files are written from the strings below."""
from __future__ import annotations

from pathlib import Path

PROJECT = "alertdrill-adopt-demo"
PORTS = {"WEB_PORT": 19080, "ALERT_SINK_PORT": 19095, "PROMETHEUS_PORT": 19090, "ALERTMANAGER_PORT": 19093}
CONTAINERS = ("adopt-web", "adopt-sink", "adopt-prometheus", "adopt-alertmanager")

# No /ready and no backend: steady state needs nothing of a platform but healthy containers and quiet alerts.
WEB = '''"""The demo platform's service: /metrics (one counter)."""
import http.server, os
served = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        served += 1
        body = {"/metrics": f"web_requests_total {served}\\n"}.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write((body or "no\\n").encode())
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["WEB_PORT"])), H).serve_forever()
'''

SINK = '''"""The demo platform's alert sink: records Alertmanager webhooks per receiver (/hook/<receiver>)."""
import http.server, json, os, threading, time
from urllib.parse import parse_qs, urlparse
store, lock = [], threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def _send(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        receiver = self.path.rsplit("/", 1)[-1]
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock:
            for a in payload["alerts"]:
                store.append({"receiver": receiver, "status": a["status"], "labels": a["labels"],
                              "annotations": a.get("annotations") or {},
                              "alertname": a["labels"].get("alertname", ""), "received_at_unix": time.time()})
        self._send(200, {"ok": True})
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return self._send(200, {"ok": True})
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        with lock:
            rows = [n for n in store if all(str(n.get(k)) == v for k, v in q.items() if k != "since")
                    and n["received_at_unix"] >= float(q.get("since", 0))]
        self._send(200, {"notifications": rows})
    def do_DELETE(self):
        with lock:
            store.clear()
        self._send(200, {"ok": True})
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["ALERT_SINK_PORT"])), H).serve_forever()
'''

PROMETHEUS = """global:
  scrape_interval: 15s
  scrape_timeout: 10s
  evaluation_interval: 15s
rule_files: [/etc/prometheus/rules/*.yml]
alerting:
  alertmanagers: [{static_configs: [{targets: ["127.0.0.1:${ALERTMANAGER_PORT}"]}]}]
scrape_configs:
  - job_name: web
    static_configs: [{targets: ["127.0.0.1:${WEB_PORT}"]}]
"""

RULES = """groups:
  - name: web
    rules:
      - alert: WebDown
        expr: up{job="web"} == 0
        for: 1m
        labels: {severity: critical}
        annotations:
          summary: the web service does not answer its scrape
          description: "up is {{ $value }} for the web service: it is down or unreachable."
          runbook_url: runbook.md#webdown
      - alert: WebIdle
        expr: rate(web_requests_total[5m]) == 0
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: nobody asks the web service anything
          description: "no request reached the web service for ten minutes."
          runbook_url: runbook.md#webidle
"""

ALERTMANAGER = """route:
  receiver: chat
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - receiver: pager
      matchers: ['severity="critical"']
      continue: true
    - receiver: chat
receivers:
  - name: pager
    webhook_configs: [{url: "http://127.0.0.1:19095/hook/pager", send_resolved: true}]
  - name: chat
    webhook_configs: [{url: "http://127.0.0.1:19095/hook/chat", send_resolved: true}]
"""

RUNBOOK = f"""# Web runbook

## Alert index

| alert | severity | fires when | threshold | window | for | routing labels | receivers | inhibits |
|-------|----------|------------|-----------|--------|-----|----------------|-----------|----------|
| [WebDown](#webdown) | critical | Prometheus cannot scrape the web service | `== 0` | | `1m` | | pager, chat | |
| [WebIdle](#webidle) | warning | no request for ten minutes | `== 0` | `5m` | `10m` | | chat | |

## Severity levels

| severity | response time |
|----------|---------------|
| critical | 5 minutes |
| warning | 30 minutes |

## Notification timing

| receiver | group_wait | group_interval | repeat_interval |
|----------|------------|----------------|-----------------|
| pager | `30s` | `5m` | `4h` |
| chat | `30s` | `5m` | `4h` |

| grouping | labels |
|----------|--------|
| group by | alertname |

| stage | interval |
|-------|----------|
| scrape | `15s` |
| rule evaluation | `15s` |

## Receivers

| receiver | gets | integration | to |
|----------|------|-------------|----|
| pager | critical alerts | webhook | the alert sink, /hook/pager |
| chat | every alert | webhook | the alert sink, /hook/chat |

## Alerts

### WebDown

**Symptoms**:
the web service answers no request; Prometheus cannot scrape it.

**Investigation**:
```bash
# Is the container running?
docker ps --filter name=adopt-web
```

**Remediation**:
```bash
# The web service stopped or crashed: start it again
docker compose -p {PROJECT} -f compose.yml start adopt-web
```

### WebIdle

**Symptoms**:
no requests for ten minutes.

**Investigation**:
look at the load balancer's access log.
"""

COMPOSE = f"""name: {PROJECT}
x-ports: &ports
  WEB_PORT: ${{WEB_PORT:-19080}}
  ALERT_SINK_PORT: ${{ALERT_SINK_PORT:-19095}}
  PROMETHEUS_PORT: ${{PROMETHEUS_PORT:-19090}}
  ALERTMANAGER_PORT: ${{ALERTMANAGER_PORT:-19093}}
x-health: &health {{interval: 1s, timeout: 3s, retries: 60}}
services:
  adopt-web:
    image: alertdrill/platform:dev
    container_name: adopt-web
    network_mode: host
    environment: *ports
    volumes: ["./web.py:/demo/web.py:ro"]
    command: ["python3", "/demo/web.py"]
    healthcheck:
      <<: *health
      test: ["CMD-SHELL", "python3 -c \\"import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/metrics' % os.environ['WEB_PORT'], timeout=2)\\""]
  adopt-sink:
    image: alertdrill/platform:dev
    container_name: adopt-sink
    network_mode: host
    environment: *ports
    volumes: ["./sink.py:/demo/sink.py:ro"]
    command: ["python3", "/demo/sink.py"]
    healthcheck:
      <<: *health
      test: ["CMD-SHELL", "python3 -c \\"import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['ALERT_SINK_PORT'], timeout=2)\\""]
  adopt-prometheus:
    image: alertdrill/prometheus:dev
    container_name: adopt-prometheus
    network_mode: host
    environment:
      <<: *ports
      RESEND_DELAY: ${{RESEND_DELAY:-1m}}
    volumes:
      - ${{ALERTDRILL_PROMETHEUS_DIR:-./prometheus}}:/etc/prometheus/src:ro
      - ${{ALERTDRILL_RULES_DIR:-./rules}}:/etc/prometheus/rules:ro
    healthcheck:
      <<: *health
      test: ["CMD-SHELL", "curl -fs http://127.0.0.1:$$PROMETHEUS_PORT/-/ready"]
  adopt-alertmanager:
    image: alertdrill/alertmanager:dev
    container_name: adopt-alertmanager
    network_mode: host
    environment: *ports
    volumes: ["${{ALERTDRILL_ALERTMANAGER_DIR:-./alertmanager}}:/etc/alertmanager/src:ro"]
    healthcheck:
      <<: *health
      test: ["CMD-SHELL", "curl -fs http://127.0.0.1:$$ALERTMANAGER_PORT/-/ready"]
"""


def write(root: Path) -> Path:
    """Write the platform into root (rules/, alertmanager/, prometheus/, runbook.md, compose.yml, the two services, a
    pyproject.toml without [tool.alertdrill]); returns root."""
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "alertmanager").mkdir(exist_ok=True)
    (root / "prometheus").mkdir(exist_ok=True)
    files = {"web.py": WEB, "sink.py": SINK, "prometheus/prometheus.yml": PROMETHEUS, "rules/web.yml": RULES,
             "alertmanager/alertmanager.yml": ALERTMANAGER, "runbook.md": RUNBOOK, "compose.yml": COMPOSE,
             "pyproject.toml": '[project]\nname = "web-platform"\nversion = "0"\n'}
    for name, text in files.items():
        (root / name).write_text(text)
    return root
