"""The reference platform's alert sink: PagerDuty, Slack, mail and webhook receivers for Alertmanager's
notifications in drills (run: uvicorn alert_sink.app:app; see README.md)."""
