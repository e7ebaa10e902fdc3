"""The reliability tier: drills interrupted and stacks dirtied on purpose, each drill run in a pytest
process of its own as CI would run it. The tests marked `stack` start and stop the project's stack
themselves, so they run before any tier that uses the session's stack (testpaths order) and refuse to
start when a stack of the project is already up. `--all-phases` runs the whole signal matrix (on demand:
`make reliability`); without it, the CI subset."""
from __future__ import annotations

import subprocess

import pytest

from alertdrill.target import lane as lanes

from tests.reliability.drillproc import ROOT, project_names


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--all-phases", action="store_true", default=False,
                     help="reliability tier: interrupt the drill in every phase with SIGINT and SIGTERM "
                          "(about 30 minutes), not only the CI subset")
    parser.addoption("--restart-daemon", action="store_true", default=False,
                     help="reliability tier: also restart the Docker daemon in the middle of a drill (stops "
                          "every container on this machine for a moment: on demand only)")
    parser.addoption("--lanes", action="store_true", default=False,
                     help="reliability tier: also run a drill in two checkouts in lanes 1 and 2 side by side "
                          "(two stacks at once, minutes: on demand only)")


def project_containers() -> list[str]:
    return project_names(lanes.current().project)


@pytest.fixture
def no_stack_yet():
    """A drill that starts its own stack needs none running: it would adopt it and tear it down."""
    running = project_containers()
    if running:
        pytest.fail(f"a stack of project {lanes.current().project} is already running ({', '.join(running)}); "
                    "the reliability tier starts and stops its own. Run `make down` first, or run this tier on "
                    "its own before the drills (testpaths order does)", pytrace=False)


@pytest.fixture(scope="module")
def running_stack():
    """The project's stack with drill timings, started for the tests of a module that reuse it; down at
    the module's end."""
    running = project_containers()
    if running:
        pytest.fail(f"a stack of project {lanes.current().project} is already running ({', '.join(running)}); "
                    "the reliability tier starts and stops its own: `make down` first", pytrace=False)
    cli = str(ROOT / ".venv" / "bin" / "alertdrill")
    subprocess.run([cli, "stack", "up"], cwd=ROOT, check=True, timeout=900)
    yield
    subprocess.run([cli, "stack", "down"], cwd=ROOT, check=True, timeout=300)
