"""Signal generator of the reference trading-signals platform (run: python -m signal_generator)."""
