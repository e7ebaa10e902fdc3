"""alertdrill as a platform team gets it: a wheel, installed in a fresh virtual environment, drilling a
small second platform of its own (tests/adopt/demo_platform.py: its own compose project, container names
and 19xxx ports) after `alertdrill init`, without a single path into this repository.

The wheel's contents are checked without containers; the drill needs Docker and this repository's images
(alertdrill/platform:dev, alertdrill/prometheus:dev, alertdrill/alertmanager:dev: `make images`), and pip
reaching PyPI for the wheel's dependencies (a warm pip cache makes it quick)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import demo_platform

REPO = Path(__file__).resolve().parents[2]
IMAGES = ("alertdrill/platform:dev", "alertdrill/prometheus:dev", "alertdrill/alertmanager:dev")
NOT_SHIPPED = {".git", ".venv", ".alertdrill", "build", "dist", "__pycache__", ".pytest_cache", "bin"}


def run(cmd: list, *, cwd: Path, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"$ {' '.join(map(str, cmd))}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel --no-deps` of a copy of the sources (the build leaves nothing in the working tree)."""
    src = tmp_path_factory.mktemp("src") / "alertdrill"
    shutil.copytree(REPO, src, ignore=lambda d, names: [n for n in names if n in NOT_SHIPPED or n.endswith(".egg-info")])
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src], cwd=out, timeout=600)
    (found,) = out.glob("alertdrill-*.whl")
    return found


def test_the_wheels_only_top_level_package_is_alertdrill(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"alertdrill"}, sorted(tops)
    for module in ("alertdrill/config.py", "alertdrill/adopt/coverage.py", "alertdrill/adopt/scaffold.py",
                   "alertdrill/fixtures/plugin.py", "alertdrill/load/distributed.py"):
        assert module in names
    assert not [n for n in names if n.startswith(("alertdrill/stack", "stack/", "scenarios/", "tests/"))]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict]:
    """A fresh virtual environment with the wheel installed, and an environment free of this checkout's
    settings (and of the drill lane this test runs in): (its bin folder, the environment)."""
    # (and of this run's own pytest options: PYTEST_ADDOPTS="--durations=N" would time the other project's run)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "ALERTDRILL_CONFIG",
                                                             "ALERTDRILL_LANE", "ALERTDRILL_STATE_DIR",
                                                             "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    where = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(where)
    run([where / "bin" / "pip", "install", "-q", wheel], cwd=where, timeout=900, env=env)
    return where / "bin", env


ANOTHER_PROJECT = {
    "pyproject.toml": '[project]\nname = "ledger"\nversion = "1.0"\n\n'
                      '[tool.pytest.ini_options]\naddopts = "--strict-markers"\n',
    "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef stack():\n    return ['own']\n",
    "tests/test_ledger.py": """import signal

import pytest


def test_adds():
    assert 1 + 1 == 2


def test_fails_on_purpose():
    assert 1 + 1 == 3


def test_its_own_stack_fixture(stack):
    assert stack == ["own"]


def test_no_signal_handler_is_installed():
    # as the process inherited them (a CI job started under nohup ignores SIGHUP): no handler of anyone's
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.SIG_IGN)
    assert signal.getsignal(signal.SIGHUP) in (signal.SIG_DFL, signal.SIG_IGN)


@pytest.mark.parametrize("name", ["drill", "drill_context", "drill_settings", "drill_config"])
def test_no_drill_fixture_is_offered(request, name):
    with pytest.raises(pytest.FixtureLookupError):
        request.getfixturevalue(name)
""",
}


def test_an_unconfigured_project_runs_its_tests_unchanged(installed, tmp_path):
    """Installed beside a project with its own tests and no [tool.alertdrill], the plugin raises nothing,
    prints nothing, installs no signal handler, offers no fixture, and the run reads as it does without it."""
    bin_, env = installed
    for name, text in ANOTHER_PROJECT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert "--drill-factor" in run([bin_ / "pytest", "--help"], cwd=tmp_path, timeout=120, env=env).stdout, \
        "the plugin is not loaded: this test would prove nothing"

    def pytest_run(*extra: str) -> tuple[int, str]:
        proc = subprocess.run([str(bin_ / "pytest"), "-p", "no:cacheprovider", "-rA", *extra], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, env=env)
        out = re.sub(r" in [0-9.]+s", " in Xs", proc.stdout + proc.stderr)
        return proc.returncode, re.sub(r"(?m)^plugins: .*\n", "", out)  # the one line that names it

    with_plugin, without = pytest_run(), pytest_run("-p", "no:alertdrill")
    assert with_plugin == without, f"with alertdrill:\n{with_plugin[1]}\nwithout:\n{without[1]}"
    assert with_plugin[0] == 1 and "1 failed, 7 passed" in with_plugin[1], with_plugin[1]
    assert "alertdrill" not in with_plugin[1]


def _docker_ready() -> str:
    if not shutil.which("docker"):
        return "no docker CLI"
    for image in IMAGES:
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
            return f"image {image} missing: run `make images` first"
    return ""


def _write_fault(scenario: Path) -> None:
    """What the user writes after `alertdrill init`: the fault, in place of the placeholder."""
    text = scenario.read_text()
    lines = [("    d.inject(StopContainer('adopt-web'))" if "raise FaultNotWritten(" in line else line)
             for line in text.splitlines()]
    text = "\n".join(lines).replace("from alertdrill.errors import FaultNotWritten",
                                    "from alertdrill.engine.faults import StopContainer")
    scenario.write_text(text + "\n")


@pytest.mark.drill
def test_a_second_platform_is_drilled_from_the_installed_wheel(installed, tmp_path):
    why = _docker_ready()
    if why:
        pytest.skip(why)
    # a platform of its own: none of this checkout's settings, nor those of the drill lane this test runs in
    bin_, env = installed
    platform = demo_platform.write(tmp_path / "web-platform")
    compose = ["docker", "compose", "-p", demo_platform.PROJECT, "-f", platform / "compose.yml"]
    try:
        out = run([bin_ / "alertdrill", "init"], cwd=platform, timeout=120, env=env).stdout
        assert "wrote scenarios/test_web_down.py" in out
        _write_fault(platform / "scenarios" / "test_web_down.py")
        drill = run([bin_ / "pytest", "scenarios", "-k", "WebDown", "-p", "no:cacheprovider", "-p", "no:randomly"],
                    cwd=platform, timeout=900, env=env).stdout
        assert "1 passed" in drill, drill
        assert str(REPO) not in drill, "the drill used a path into the alertdrill repository"
        where = run([bin_ / "python", "-c", "import alertdrill; print(alertdrill.__file__)"], cwd=platform,
                    timeout=60, env=env).stdout
        assert where.startswith(str(bin_.parent)), where
        assert (platform / ".alertdrill" / "timelines" / "test_WebDown.json").is_file()
        cov = subprocess.run([bin_ / "alertdrill", "coverage", "--fail-on-gap"], cwd=platform, capture_output=True,
                             text=True, timeout=120, env=env)
        assert cov.returncode == 1 and "gap: WebIdle:" in cov.stdout, cov.stdout + cov.stderr
        assert "WebDown" in cov.stdout and "never" not in next(l for l in cov.stdout.splitlines() if l.startswith("WebDown"))
    finally:
        subprocess.run([*map(str, compose), "down", "--volumes", "--remove-orphans", "--timeout", "5"],
                       cwd=platform, capture_output=True, timeout=300)
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={demo_platform.PROJECT}"],
                              capture_output=True, text=True, timeout=60).stdout.split()
        assert not left, f"containers of {demo_platform.PROJECT} left behind: {left}"
