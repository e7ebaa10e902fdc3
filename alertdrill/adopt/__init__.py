"""Adopting alertdrill on a platform: what is covered (coverage.py), scaffolding drills (scaffold.py)."""
