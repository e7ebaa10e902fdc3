"""Where the project's files are: the one definition of the project root, the state directory and the
default paths of the compose file, rules, Alertmanager configuration and runbook."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = PROJECT_ROOT / ".alertdrill"  # rendered drill configs, timelines, load runs

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.test.yml"
RULES_FILE = PROJECT_ROOT / "stack" / "prometheus" / "rules" / "alerts.yml"
ALERTMANAGER_FILE = PROJECT_ROOT / "stack" / "alertmanager" / "alertmanager.yml"
PROMETHEUS_FILE = PROJECT_ROOT / "stack" / "prometheus" / "prometheus.yml"
RUNBOOK_FILE = PROJECT_ROOT / "docs" / "runbook.md"
