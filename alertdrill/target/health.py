"""What steady means for the target besides its alerts: every configured service's container healthy by
its own health check, each readiness path of [tool.alertdrill] `ready` answering 200 on its service's port,
and the platform's own checks named in `steady_checks` (say, a queue drained). Each function returns the
problems it sees, one line each; none means steady."""
from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, Callable

import httpx

from alertdrill.errors import ConfigError

if TYPE_CHECKING:
    from alertdrill.config import Config

# Called with the drill context (alertdrill.engine.context.DrillContext, which loads them: not imported here).
SteadyCheck = Callable[[Any], list[str]]
READY_TIMEOUT_S = 3.0


def load_checks(conf: "Config") -> list[SteadyCheck]:
    """The functions `steady_checks` names, imported; module names resolve from the configuration's
    directory as well as the path (as pytest's rootdir does for the scenarios)."""
    if conf.steady_checks and str(conf.root) not in sys.path:
        sys.path.append(str(conf.root))
    found = []
    for name in conf.steady_checks:
        module, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"[tool.alertdrill] steady_checks: {name!r} cannot be loaded ({exc}); expected "
                              f"'module:function' importable from {conf.root}") from None
        if not callable(fn):
            raise ConfigError(f"[tool.alertdrill] steady_checks: {name!r} is a {type(fn).__name__}, not a function")
        found.append(fn)
    return found


def containers(target, services) -> list[str]:
    """Every service's container running and healthy, as the target (alertdrill.target.control) says."""
    bad = {n: s for n, s in target.states(services).items() if s != "running (healthy)"}
    return ["containers not healthy: " + ", ".join(f"{n}={s}" for n, s in bad.items())] if bad else []


def readiness(endpoints, conf: "Config") -> list[str]:
    """Each `ready` path answers 200 on its service's port."""
    problems = []
    for service, path in conf.ready.items():
        url = endpoints.url(conf.services[service]) + path
        try:
            r = httpx.get(url, timeout=READY_TIMEOUT_S)
            if r.status_code != 200:
                problems.append(f"{service} {path} -> {r.status_code} {r.text[:120]}")
        except httpx.HTTPError as exc:
            problems.append(f"{service} {path} unreachable: {exc}")
    return problems


def platform_checks(ctx: Any) -> list[str]:
    """The platform's own checks. One that raises is a problem to report, not a crash of the drill."""
    problems = []
    for check in ctx.steady_checks:
        try:
            problems += list(check(ctx))
        except Exception as exc:  # noqa: BLE001 (a check of the user's: say which and what)
            problems.append(f"steady check {check.__module__}.{check.__name__} failed: {exc!r}")
    return problems


def describe(conf: "Config") -> str:
    """The steady-state promise in words, for failure messages."""
    parts = ["every service healthy"]
    parts += [f"{service} {path} 200" for service, path in conf.ready.items()]
    parts += [f"{name} clear" for name in conf.steady_checks]
    return ", ".join(parts) + ", no alert pending or firing"
