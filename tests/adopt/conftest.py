"""tests/adopt: alertdrill as a platform team adopts it (configuration, init, coverage, the wheel)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # demo_platform
