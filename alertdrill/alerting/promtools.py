"""Find and run promtool and amtool, the offline checkers of Prometheus rules and Alertmanager routing.

Lookup order for each tool:
  1. the environment variable ALERTDRILL_PROMTOOL / ALERTDRILL_AMTOOL (a path, or a command line),
  2. the binary on PATH (Debian: `apt-get install prometheus prometheus-alertmanager`),
  3. the stack's own images through Docker, if the docker CLI is there and the image exists locally:
     `docker run --rm --network host --entrypoint promtool alertdrill/prometheus:dev ...`
     (resp. amtool in alertdrill/alertmanager:dev), with the repository and the temp directory mounted
     at the same paths so file arguments keep working.
If none works, `require()` raises ToolNotFound whose message says how to get the tool; the fast tests turn
that into a skip.
"""
from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alertdrill.config import current as current_config

TOOLS = {
    # name: (environment override, Debian package, stack image)
    "promtool": ("ALERTDRILL_PROMTOOL", "prometheus", "alertdrill/prometheus:dev"),
    "amtool": ("ALERTDRILL_AMTOOL", "prometheus-alertmanager", "alertdrill/alertmanager:dev"),
}


class ToolNotFound(RuntimeError):
    """promtool or amtool is neither on PATH nor runnable from the stack's image."""


@dataclass(frozen=True)
class Tool:
    name: str
    argv: tuple[str, ...]  # command prefix: ("/usr/bin/promtool",) or ("docker", "run", ...)
    source: str  # "env", "path" or "docker"

    def run(self, *args: str | os.PathLike, cwd: str | os.PathLike | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the tool with args; never raises on a non-zero exit (check .returncode)."""
        argv = list(self.argv)
        if self.source == "docker" and cwd is not None:
            i = argv.index("--entrypoint")
            argv[i:i] = ["-w", str(Path(cwd).resolve())]
        return subprocess.run(argv + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout)

    def version(self) -> str:
        p = self.run("--version")
        return (p.stdout or p.stderr).splitlines()[0] if (p.stdout or p.stderr) else "unknown"


def how_to_get(name: str) -> str:
    env, pkg, image = TOOLS[name]
    return (f"{name} not found: install it (`apt-get install {pkg}` on Debian/Ubuntu, or the release "
            f"tarball from https://prometheus.io/download/), or build the stack image {image} with docker "
            f"available, or point {env} at the binary")


def _docker_argv(name: str, image: str) -> tuple[str, ...] | None:
    docker = shutil.which("docker")
    if not docker:
        return None
    try:
        p = subprocess.run([docker, "image", "inspect", image], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    mounts: list[str] = []
    for d in sorted({str(current_config().root), os.path.realpath(tempfile.gettempdir())}):
        mounts += ["-v", f"{d}:{d}"]
    user = ["--user", f"{os.getuid()}:{os.getgid()}"] if hasattr(os, "getuid") else []
    return (docker, "run", "--rm", "-i", "--network", "host", *user, *mounts, "--entrypoint", name, image)


@functools.lru_cache(maxsize=None)
def find(name: str) -> Tool | None:
    """The tool to use, or None. Cached: the lookup runs once per process."""
    if name not in TOOLS:
        raise ValueError(f"unknown tool {name!r}: valid tools are {', '.join(TOOLS)}")
    env, _pkg, image = TOOLS[name]
    override = os.environ.get(env)
    if override:
        return Tool(name, tuple(shlex.split(override)), "env")
    path = shutil.which(name)
    if path:
        return Tool(name, (path,), "path")
    argv = _docker_argv(name, image)
    if argv:
        return Tool(name, argv, "docker")
    return None


def require(name: str) -> Tool:
    tool = find(name)
    if tool is None:
        raise ToolNotFound(how_to_get(name))
    return tool


def promtool() -> Tool:
    return require("promtool")


def amtool() -> Tool:
    return require("amtool")
