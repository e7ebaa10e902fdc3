"""Before the first drill: is the stack clean? A run killed hard (SIGKILL, a power cut, a crashed
machine) can leave a toxic, an edited env file or denylist, a runaway lock, a Locust process or a firing
alert behind, and `docker compose up` reuses such containers as they are. A drill started on that
judges the leftover, and a guard or fault would save the broken file as "the original" to restore.

`preflight(stack)` resets what it can and says what it reset; what it cannot reset (an alert that keeps
firing with nothing left to remove) refuses the run with a StackError naming it and how to fix it.

What counts as config (CONFIG_FILES): the platform's env files and denylists, compared by content with
the same path in the container's image (a file rewritten with identical bytes is clean).
"""
from __future__ import annotations

import io
import os
import stat
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from fnmatch import fnmatch
from pathlib import Path

import psutil
import psycopg

from alertdrill.config import current as current_config
from alertdrill.errors import StackError
from alertdrill.target.clients import PrometheusClient, ToxiproxyClient
from alertdrill.wait import until

CONFIG_FILES = ("*.env", "*denylist*.txt")
# Relation locks no request of the platform takes: only a maintenance job (or a drill's runaway) holds them.
EXCLUSIVE_LOCKS = ("AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock")
LOCK_HOLDERS = """
SELECT DISTINCT a.pid, a.application_name, left(a.query, 80)
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.granted AND l.mode = ANY(%s) AND a.pid <> pg_backend_pid()
"""


def preflight(stack, *, state_dir: Path, alerts_clear_s: float = 180.0, report=print) -> list[str]:
    """Reset what a previous run left behind; return what was reset (empty: the stack was clean)."""
    services = set(stack.services)  # a platform without Toxiproxy or a database has nothing of theirs to reset
    done: list[str] = []
    done += _locust_processes(state_dir)
    if "toxiproxy" in services:
        done += _toxics(ToxiproxyClient(stack.endpoints.toxiproxy))
    if current_config().postgres_dsn:
        done += _locks(stack.endpoints.postgres_dsn)
    done += _config_files(stack)
    for line in done:
        report(f"alertdrill: preflight reset: {line}")
    if "prometheus" in services:
        _alerts_clear(PrometheusClient(stack.endpoints.prometheus), alerts_clear_s, after_reset=bool(done),
                      report=report)
    return done


def locust_processes(state_dir: Path) -> list[psutil.Process]:
    """Locust processes of this checkout: their working folder is under its state dir's load/."""
    loads = str(Path(state_dir).resolve() / "load")
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "cwd"]):
        cmd, cwd = p.info.get("cmdline") or [], p.info.get("cwd") or ""
        if p.pid != os.getpid() and "locust" in " ".join(cmd[:3]) and cwd.startswith(loads):
            found.append(p)
    return found


def _locust_processes(state_dir: Path) -> list[str]:
    found = locust_processes(state_dir)
    for p in found:
        p.kill()
    psutil.wait_procs(found, timeout=10)
    return [f"killed a Locust process left by an earlier run (pid {p.pid}, in {p.info['cwd']})" for p in found]


def _toxics(toxiproxy: ToxiproxyClient) -> list[str]:
    proxies = toxiproxy.proxies()
    dirty = [f"{name}: " + (", ".join(t["name"] for t in p.get("toxics", [])) or "no toxic")
             + ("" if p.get("enabled", True) else ", disabled") for name, p in sorted(proxies.items())
             if p.get("toxics") or not p.get("enabled", True)]
    if not dirty:
        return []
    toxiproxy.reset()
    left = {n: p for n, p in toxiproxy.proxies().items() if p.get("toxics") or not p.get("enabled", True)}
    if left:
        raise StackError(f"Toxiproxy still has toxics or disabled proxies after POST /reset: {sorted(left)}; "
                         "restart it: docker compose -f docker-compose.test.yml restart toxiproxy")
    return [f"toxiproxy: removed the toxics and enabled the proxies ({'; '.join(dirty)})"]


def _locks(dsn: str) -> list[str]:
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        holders = conn.execute(LOCK_HOLDERS, (list(EXCLUSIVE_LOCKS),)).fetchall()
        for pid, _, _ in holders:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))

        def gone() -> bool:
            return not conn.execute(LOCK_HOLDERS, (list(EXCLUSIVE_LOCKS),)).fetchall()

        if holders:
            until(gone, 10, poll=0.2, on_timeout=lambda: _raise(
                f"postgres sessions {[h[0] for h in holders]} still hold table locks after pg_terminate_backend"))
    return [f"postgres: terminated session {pid} ({app or 'no application_name'}) holding a table lock: {query!r}"
            for pid, app, query in holders]


def _raise(message: str) -> None:
    raise StackError(message)


def differing_config_files(docker, service: str) -> list[str]:
    """The service's env files and denylists whose content differs from its image's."""
    container = docker.container(service)
    if container is None or not container.attrs["State"].get("Running"):
        return []
    changed = [path for path in changed_paths(container) if any(fnmatch(os.path.basename(path), pat)
                                                                    for pat in CONFIG_FILES)]
    return [path for path in changed if _read(container, path) != _image_file(docker, container.image.id, path)]


def changed_paths(container) -> list[str]:
    """Files the container changed or added over its image (not those it deleted). Read from overlay2's
    upper directory where this process can (a local daemon, run as root), which takes milliseconds;
    otherwise asked of the daemon (`docker diff`: 0.2-0.7 s a container, 2-5 s for the stack's nine at
    once, while it mounts each container's layers)."""
    driver = container.attrs.get("GraphDriver") or {}
    upper = (driver.get("Data") or {}).get("UpperDir") or ""
    if driver.get("Name") != "overlay2" or not os.path.isdir(upper):
        return [c["Path"] for c in container.diff() or [] if c["Kind"] in (0, 1)]
    found = []
    for root, _, files in os.walk(upper):
        for name in files:
            path = os.path.join(root, name)
            if not stat.S_ISCHR(os.lstat(path).st_mode):  # a character device there is a deletion (whiteout)
                found.append("/" + os.path.relpath(path, upper))
    return found


def differing_config_files_by_service(docker, services) -> dict[str, list[str]]:
    """differing_config_files for each service, asked at once (where `docker diff` is needed, the daemon
    answers for several containers at once sooner than one after another)."""
    services = list(services)
    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        return dict(zip(services, pool.map(lambda service: differing_config_files(docker, service), services)))


def _config_files(stack) -> list[str]:
    """Config files that differ from the image: the container is recreated from it."""
    done = []
    for service, differs in differing_config_files_by_service(stack.docker, stack.services).items():
        if differs:
            stack.compose("up", "--detach", "--force-recreate", "--no-deps", "--wait", service, timeout=300)
            done.append(f"{service}: {', '.join(differs)} differed from the image; container recreated")
    return done


def _read(container, path: str) -> bytes | None:
    try:
        stream, _ = container.get_archive(path)
    except Exception:  # docker.errors.NotFound: deleted in the container
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmembers()[0]
        f = tar.extractfile(member)
        return f.read() if f is not None else None


def _image_file(docker, image: str, path: str) -> bytes | None:
    """The file as the image ships it: read from a created (never started) container, no process runs."""
    probe = docker.create_probe(image)
    try:
        return _read(probe, path)
    finally:
        probe.remove(force=True)


def _alerts_clear(prom: PrometheusClient, timeout: float, *, after_reset: bool, report) -> None:
    """No alert firing. After a reset the alerts it caused may still be draining their windows: wait for
    them (up to `timeout`); an alert that keeps firing refuses the run."""
    seen: dict = {"firing": []}

    def clear() -> bool:
        seen["firing"] = sorted({a.name for a in prom.alerts() if a.state == "firing"})
        return not seen["firing"]

    if clear():
        return
    report(f"alertdrill: preflight: {', '.join(seen['firing'])} firing before the first drill; waiting up to "
           f"{timeout:.0f}s for "
           + ("the reset to clear it" if after_reset else "it to resolve"))
    started = time.monotonic()
    until(clear, timeout, poll=2.0, on_timeout=lambda: _raise(
        f"{', '.join(seen['firing'])} still firing {time.monotonic() - started:.0f}s before the first drill, with "
        "nothing left behind by alertdrill to reset: a drill would judge this incident, not its own fault.\n"
        f"Hint: look at {prom.base_url}/alerts and the runbook section of that alert; or `alertdrill stack down` and rerun "
        "to start from a fresh stack"))
