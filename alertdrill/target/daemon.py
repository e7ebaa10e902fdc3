"""Is the Docker daemon to blame? A daemon (or host) restart in the middle of a drill makes whatever check
runs next fail with a misleading message (a notice missing, an alert that never fired). When a drill
fails, this asks the daemon: no answer, or every container of the stack stopped or started again since
the drill began (a drill restarts one or two services, never all of them), means the engine went away,
and the drill fails saying so."""
from __future__ import annotations

import time

from alertdrill.errors import DockerDaemonGone

HINT = ("the verdict says nothing about the alerting: once `docker info` answers and `alertdrill stack status` shows every "
        "service healthy (the services restart by themselves: restart: unless-stopped), run the drill again")


def daemon_trouble(stack, since: float) -> DockerDaemonGone | None:
    """A DockerDaemonGone when the daemon does not answer or restarted the stack's containers after
    `since` (epoch seconds); None when the daemon looks steady."""
    services = list(getattr(stack, "services", {}) or {})
    try:
        docker = stack.docker
        docker.ping()
    except Exception as exc:  # any failure to reach it is the finding
        return DockerDaemonGone("the Docker daemon stopped answering during the drill",
                                expected="the daemon answering throughout the drill", seen=str(exc)[:500],
                                hint=HINT)
    if not services:
        return None
    try:
        started = docker.started_at(services)
    except Exception as exc:
        return DockerDaemonGone("the Docker daemon failed to list the stack's containers during the drill",
                                seen=str(exc)[:500], hint=HINT)
    if all(at is None or at > since for at in started.values()):
        seen = "\n".join(f"{name}: " + ("not running" if at is None else
                                        "started " + time.strftime("%H:%M:%S", time.localtime(at)))
                         for name, at in sorted(started.items()))
        return DockerDaemonGone(
            "every container of the stack stopped or restarted during the drill: the Docker daemon (or the host) "
            "restarted", expected=f"the containers the drill does not touch running since before "
                                  f"{time.strftime('%H:%M:%S', time.localtime(since))}", seen=seen, hint=HINT)
    return None
