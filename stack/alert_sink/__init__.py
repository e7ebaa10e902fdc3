"""Alertmanager webhook sink of the reference platform (run: uvicorn alert_sink.app:app)."""
