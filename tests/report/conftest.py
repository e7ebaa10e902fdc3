"""Fast tier: the run's report (HTML, Markdown, history, the timeline's schema), made from the sample
timelines in tests/report/timelines/. No containers; the browser test skips without Chromium."""
from __future__ import annotations

from pathlib import Path

import pytest

TIMELINES = Path(__file__).parent / "timelines"


@pytest.fixture
def timelines() -> list[dict]:
    from alertdrill.report import load_dir

    return load_dir(TIMELINES)
