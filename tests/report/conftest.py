"""Fast tier: the run's report (HTML, Markdown, history, the timeline's schema), made from the sample
timelines in tests/report/timelines/. No containers; the browser test skips without Chromium.

The RedisDisconnected timelines are as real drills wrote them (x30 by the runbook, x1, people on call,
nobody answering). test_CriticalErrorRate.json keeps the events and phases of a real run from before
samples were recorded; its samples and its failure are drawn in, to show a failed drill."""
from __future__ import annotations

from pathlib import Path

import pytest

TIMELINES = Path(__file__).parent / "timelines"


@pytest.fixture
def timelines() -> list[dict]:
    from alertdrill.report import load_dir

    return load_dir(TIMELINES)
