"""Run a locustfile headless as a bounded subprocess and read its final statistics.

    with LocustLoad("locustfiles/dashboard.py", host=url, users=3, spawn_rate=3, run_time=30,
                    env={"DASHBOARD_TASKS": "market"}, name="market-load") as load:
        ...                        # inject the fault, wait for the alert...
    stats = load.stats             # __exit__ stopped locust and read its stats
    assert stats.failures("/market/{instrument}") > 0

Locust is never imported here (it monkeypatches the process with gevent on import): it runs as
`sys.executable -m locust`. Its final figures come from a small reporter LocustLoad writes into the run's
folder and loads beside the locustfile (`-f <locustfile>,<run dir>/alertdrill_report.py`): on locust's `quit`
event (after every user has stopped) it dumps the exact stats, failures, exceptions and users per class to
report.json. Why not locust's own outputs: <prefix>_stats.csv is rewritten once a second by a background
greenlet and not again at shutdown, so it can miss the last second (it stays as the fallback); and
--json-file resets the stats it serialises and carries no failures or exceptions.
Locust's exit code is 1 whenever any request failed or a user raised (2 on an unhandled error in locust
itself), also when stopped by SIGTERM (it exits through its own shutdown, not with -15), so the exit code is
recorded in LoadStats.returncode, not treated as a crash.
"""
from __future__ import annotations

import ast
import atexit
import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from alertdrill.config import current as current_config
from alertdrill.load import distributed
from alertdrill.load.stats import LoadStats, read_csv_list, rows_from_entries, stats_from_csv

STOP_TIMEOUT = 2  # locust --stop-timeout: seconds a stopping user may finish its current task
BASE_USER_CLASSES = {"User", "HttpUser", "FastHttpUser"}

_live: "set[LocustLoad]" = set()  # started, not yet stopped: the atexit hook kills these

# Loaded by locust beside the locustfile; never imported by this process.
REPORTER = '''"""Written by alertdrill.load: dumps locust's final stats to $ALERTDRILL_LOAD_REPORT when locust quits."""
import json
import os

from locust import events

_state = {}


@events.init.add_listener
def _alertdrill_init(environment, **kw):
    _state["env"] = environment


@events.quit.add_listener
def _alertdrill_quit(exit_code=None, **kw):
    env, path = _state.get("env"), os.environ.get("ALERTDRILL_LOAD_REPORT")
    if env is None or env.runner is None or not path:
        return
    runner = env.runner
    report = {
        "exit_code": exit_code,
        "entries": [e.serialize() for e in runner.stats.entries.values() if e.num_requests or e.num_failures],
        "errors": [e.to_dict() for e in runner.stats.errors.values()],
        "exceptions": [{"count": x.get("count"), "message": x.get("msg"), "traceback": x.get("traceback")}
                       for x in runner.exceptions.values()],
        "users": dict(getattr(runner, "final_user_classes_count", None) or {}),
    }
    with open(path + ".tmp", "w") as fh:
        json.dump(report, fh)
    os.replace(path + ".tmp", path)
'''


# ------------------------------------------------------------------ locustfile inspection (no import)
def user_classes_in(locustfile: str | Path) -> list[str]:
    """Runnable User classes a locustfile defines, found by reading its source (never importing it):
    classes deriving from User/HttpUser/FastHttpUser, directly or through another class of the file,
    that do not set `abstract = True`."""
    tree = ast.parse(Path(locustfile).read_text(), filename=str(locustfile))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def base_names(node: ast.ClassDef) -> list[str]:
        out = []
        for b in node.bases:
            if isinstance(b, ast.Name):
                out.append(b.id)
            elif isinstance(b, ast.Attribute):
                out.append(b.attr)
        return out

    def is_user(name: str, seen: frozenset = frozenset()) -> bool:
        if name in BASE_USER_CLASSES:
            return True
        node = classes.get(name)
        if node is None or name in seen:
            return False
        return any(is_user(b, seen | {name}) for b in base_names(node))

    def abstract(node: ast.ClassDef) -> bool:
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "abstract"
                                                    for t in stmt.targets):
                return isinstance(stmt.value, ast.Constant) and stmt.value.value is True
        return False

    return [name for name, node in classes.items()
            if any(is_user(b) for b in base_names(node)) and not abstract(node)]


# ------------------------------------------------------------------ the runner
class LocustLoad:
    """A bounded headless locust run. start() launches it; stop() ends it (SIGTERM, then SIGKILL after a
    grace) and returns its LoadStats; wait() lets it reach run_time by itself. As a context manager it is
    always stopped on exit, whatever happened inside; an atexit hook also kills any run left behind."""

    def __init__(self, locustfile: str | Path, *, host: str, users: int, spawn_rate: float, run_time: float,
                 user_classes: list[str] | None = None, env: dict[str, str] | None = None, name: str = "",
                 out_dir: str | Path | None = None, stop_grace: float = 15.0, workers: int | None = None) -> None:
        conf = current_config()
        path = Path(locustfile)
        if not path.is_absolute() and not path.exists() and (conf.root / path).exists():
            path = conf.root / path
        if not path.is_file():
            available = sorted(p.name for p in conf.locustfiles.glob("[!_]*.py"))
            raise ValueError(f"locustfile {str(locustfile)!r} not found; the locustfiles in {conf.locustfiles}: "
                             f"{', '.join(available) or '(none)'}")
        if not isinstance(host, str) or not re.match(r"^https?://[^/\s]+", host):
            raise ValueError(f"host {host!r}: expected an http(s) URL such as http://127.0.0.1:8000")
        if isinstance(users, bool) or not isinstance(users, int) or users < 1:
            raise ValueError(f"users={users!r}: expected an integer >= 1")
        if not isinstance(spawn_rate, (int, float)) or isinstance(spawn_rate, bool) or not spawn_rate > 0 \
                or not math.isfinite(spawn_rate):
            raise ValueError(f"spawn_rate={spawn_rate!r}: expected a number > 0 (users started per second)")
        if run_time is None or isinstance(run_time, bool) or not isinstance(run_time, (int, float)) \
                or not run_time > 0 or not math.isfinite(run_time):
            raise ValueError(f"run_time={run_time!r}: expected a number of seconds > 0 (the run is always bounded)")
        if stop_grace <= 0:
            raise ValueError(f"stop_grace={stop_grace!r}: expected seconds > 0")
        valid = user_classes_in(path)
        if not valid:
            raise ValueError(f"{path} defines no User class (a class deriving from HttpUser/User)")
        if user_classes is not None:
            if isinstance(user_classes, str) or not list(user_classes):
                raise ValueError(f"user_classes={user_classes!r}: expected a non-empty list of names among "
                                 f"{', '.join(valid)} (or None for all)")
            unknown = [c for c in user_classes if c not in valid]
            if unknown:
                raise ValueError(f"user class(es) {', '.join(map(str, unknown))} not in {path.name}; "
                                 f"valid: {', '.join(valid)}")
        for k, v in (env or {}).items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError(f"env: expected str -> str, got {k!r}: {v!r}")
        self.locustfile = path.resolve()
        self.host = host.rstrip("/")
        self.users, self.spawn_rate = users, float(spawn_rate)
        self.run_time = float(run_time)
        self.run_seconds = max(1, math.ceil(self.run_time))  # locust's --run-time takes whole seconds
        self.user_classes = list(user_classes) if user_classes is not None else None
        self.env = dict(env or {})
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name or path.stem).strip("-") or "load"
        self.out_dir = Path(out_dir) if out_dir is not None else conf.state_dir / "load"
        self.stop_grace = stop_grace
        # Locust's distributed mode: this process the master, `workers` local worker processes (0: none).
        self.workers = distributed.check_workers(distributed.default_workers() if workers is None else workers)
        self.master_port = distributed.free_port() if self.workers else None
        self._workers: distributed.Workers | None = None
        self.proc: subprocess.Popen | None = None
        self.run_dir: Path | None = None
        self.log_path: Path | None = None
        self.stats: LoadStats | None = None
        self.started_at: float | None = None
        self._log_fh = None

    # -------------------------------------------------------------- lifecycle
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def prefix(self) -> Path:
        assert self.run_dir is not None
        return self.run_dir / "locust"

    def _files(self) -> str:
        files = str(self.locustfile)
        if self.run_dir is not None:  # the reporter rides along as a second locustfile (it has no users)
            files += f",{self.run_dir / 'alertdrill_report.py'}"
        return files

    def command(self) -> list[str]:
        files = self._files()
        cmd = [sys.executable, "-m", "locust", "-f", files, "--headless",
               "-u", str(self.users), "-r", f"{self.spawn_rate:g}", "--run-time", f"{self.run_seconds}s",
               "--host", self.host, "--only-summary", "--stop-timeout", str(STOP_TIMEOUT),
               "--exit-code-on-error", "1", "--loglevel", "INFO"]
        if self.run_dir is not None:
            cmd += ["--csv", str(self.prefix)]
        if self.workers:
            cmd += distributed.master_args(self.workers, self.master_port)
        if self.user_classes:
            cmd += self.user_classes
        return cmd

    def start(self) -> "LocustLoad":
        if self.proc is not None:
            raise RuntimeError(f"load {self.name!r} was already started (one LocustLoad runs once)")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir = self.out_dir / f"{stamp}-{self.name}-{os.getpid()}-{id(self) & 0xffff:04x}"
        self.run_dir.mkdir(parents=True)
        self.log_path = self.run_dir / "locust.log"
        (self.run_dir / "alertdrill_report.py").write_text(REPORTER)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}  # no stray locust config
        env.update({"PYTHONUNBUFFERED": "1", **self.env, "ALERTDRILL_LOAD_REPORT": str(self.run_dir / "report.json")})
        # a locustfile may import the project's own modules (its platform's client), as its tests do
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(current_config().root), env.get("PYTHONPATH", "")) if p)
        self._log_fh = open(self.log_path, "ab")
        self._log_fh.write(("$ " + " ".join(self.command()) + "\n").encode())
        self._log_fh.flush()
        # cwd = the run's own folder: locust also reads ./locust.conf and ./pyproject.toml [tool.locust]
        self.proc = subprocess.Popen(self.command(), cwd=self.run_dir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._log_fh, stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at = time.monotonic()
        _live.add(self)
        if self.workers:
            self._workers = distributed.Workers(self._files(), self.workers, self.master_port, self.run_dir, env)
            self._workers.start()
        return self

    def wait(self, timeout: float | None = None) -> LoadStats:
        """Let the run end by itself (run_time + spawn + stop-timeout), then read its stats; past
        `timeout` (default: run_time + 30 s) it is stopped."""
        if self.proc is None:
            raise RuntimeError(f"load {self.name!r} was never started")
        if timeout is None:
            timeout = self.run_seconds + STOP_TIMEOUT + 30
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        return self.stop()

    def stop(self) -> LoadStats:
        """End the run now: SIGTERM (locust stops its users and writes its final stats), then SIGKILL of the
        process group after stop_grace seconds. Idempotent; returns the stats."""
        if self.proc is None:
            raise RuntimeError(f"load {self.name!r} was never started")
        if self.stats is not None and not self.running:
            return self.stats
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_grace)
            except subprocess.TimeoutExpired:
                self._kill()
        if self._workers is not None:
            self._workers.stop(self.stop_grace)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        _live.discard(self)
        self.stats = self._read_stats()
        return self.stats

    def kill(self) -> None:
        """Hard stop (no stats written); used by the atexit hook."""
        if self.proc is not None and self.proc.poll() is None:
            self._kill()
        if self._workers is not None:
            self._workers.kill()

    def _signal(self, sig: int) -> None:
        # Only while our locust is unreaped (poll() is None), so its pid - and the process group we created
        # for it with start_new_session - cannot have been recycled for somebody else's process.
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def _kill(self) -> None:
        self._signal(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def __enter__(self) -> "LocustLoad":
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        except Exception:
            self.kill()
            if exc[0] is None:
                raise

    # -------------------------------------------------------------- results
    def _read_stats(self) -> LoadStats:
        stats = LoadStats(returncode=self.proc.returncode, log_path=self.log_path)
        try:
            report = json.loads((self.run_dir / "report.json").read_text())
            stats.rows = rows_from_entries(report["entries"])
            stats.errors = list(report.get("errors") or [])
            stats.exceptions = list(report.get("exceptions") or [])
            stats.users = dict(report.get("users") or {})
            stats.source = "report"
            return stats
        except (OSError, ValueError, KeyError, TypeError):
            pass  # killed before quitting, or it never started: whatever the periodic CSV holds
        try:
            stats.rows, stats.source = stats_from_csv(Path(str(self.prefix) + "_stats.csv")), "csv"
        except (OSError, csv.Error, ValueError):
            stats.rows = {"Aggregated": {"requests": 0, "failures": 0}}
        stats.errors = read_csv_list(Path(str(self.prefix) + "_failures.csv"))
        stats.exceptions = read_csv_list(Path(str(self.prefix) + "_exceptions.csv"))
        return stats

    def __repr__(self) -> str:
        state = "running" if self.running else ("done" if self.proc else "new")
        return (f"LocustLoad({self.locustfile.name}, users={self.users}, run_time={self.run_time:g}s, "
                f"classes={self.user_classes or 'all'}, workers={self.workers}, {state})")


@atexit.register
def _kill_leftovers() -> None:
    for load in list(_live):
        load.kill()
