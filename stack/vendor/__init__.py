"""Stand-in for the external market-data vendor API (run: uvicorn vendor.app:app)."""
