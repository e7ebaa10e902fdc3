"""`alertdrill init --with-monitoring`: the three services a drill needs beside a platform, added to its
compose file (docs/adopt.md, "The monitoring services"):

- Prometheus, loading the drill copy of prometheus.yml and of the rules that alertdrill mounts in place of
  production's (ALERTDRILL_PROMETHEUS_DIR, ALERTDRILL_RULES_DIR);
- Alertmanager, loading the drill copy of alertmanager.yml (ALERTDRILL_ALERTMANAGER_DIR), which sends every
  notification to the sink;
- the alert sink, which speaks PagerDuty, Slack, SMTP and webhooks (docs/sink.md).

They run alertdrill's images (alertdrill/prometheus, alertdrill/alertmanager, and alertdrill/platform for the
sink), built from the alertdrill repository with `make images`. Each is named as its container (prefixed in
drill lanes other than 0, docs/lanes.md), with the platform's own name prefix, so that two platforms on one
host do not collide. A service of that name already
in the file is left alone, and the file is edited as text: its comments and anchors stay."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

PORTS = {"PROMETHEUS_PORT": 9090, "ALERTMANAGER_PORT": 9093, "ALERT_SINK_PORT": 9095}
SMTP_PORT = ("ALERT_SINK_SMTP_PORT", 9025)
MARK = "# added by `alertdrill init --with-monitoring`"
HEALTH = "interval: 1s, timeout: 3s, retries: 60"
# the platform image has no curl: (inside a YAML double-quoted string)
PYTHON_PROBE = (r"""python3 -c \"import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' """
                r"""% os.environ['ALERT_SINK_PORT'], timeout=2)\"""")


def _mount(var: str, folder: str, target: str) -> str:
    return f'"${{{var}:-./{folder}}}:{target}:ro"'


def _service(name: str, image: str, env: dict[str, str], volumes: list[str], probe: str,
             command: str | None = None) -> str:
    lines = [f"{name}:  {MARK}", f"  image: {image}", "  container_name: ${ALERTDRILL_CONTAINER_PREFIX:-}" + name, "  network_mode: host",
             "  environment:"] + [f"    {k}: {v}" for k, v in env.items()]
    lines.append(f"  volumes: [{', '.join(volumes)}]")
    if command:
        lines.append(f"  command: {command}")
    lines.append(f'  healthcheck: {{test: ["CMD-SHELL", "{probe}"], {HEALTH}}}')
    return "\n".join(lines)


def services(prefix: str, dirs: dict[str, str], mail: bool) -> dict[str, str]:
    """name -> its YAML (unindented), for folders relative to the compose file: prometheus (of
    prometheus.yml), rules, alertmanager (of alertmanager.yml)."""
    port = {k: f"${{{k}:-{v}}}" for k, v in PORTS.items()}
    am_dir = _mount("ALERTDRILL_ALERTMANAGER_DIR", dirs["alertmanager"], "/etc/alertmanager/src")
    sink_env = {"ALERT_SINK_PORT": port["ALERT_SINK_PORT"]}
    if mail:  # the sink's SMTP receiver, for email_configs
        sink_env[SMTP_PORT[0]] = f"${{{SMTP_PORT[0]}:-{SMTP_PORT[1]}}}"
    return {
        f"{prefix}prometheus": _service(
            f"{prefix}prometheus", "alertdrill/prometheus:dev",
            {"PROMETHEUS_PORT": port["PROMETHEUS_PORT"], "RESEND_DELAY": "${RESEND_DELAY:-1m}"},
            [_mount("ALERTDRILL_PROMETHEUS_DIR", dirs["prometheus"], "/etc/prometheus/src"),
             _mount("ALERTDRILL_RULES_DIR", dirs["rules"], "/etc/prometheus/rules")],
            "curl -fs http://127.0.0.1:$$PROMETHEUS_PORT/-/ready"),
        f"{prefix}alertmanager": _service(
            f"{prefix}alertmanager", "alertdrill/alertmanager:dev",
            {"ALERTMANAGER_PORT": port["ALERTMANAGER_PORT"]}, [am_dir],
            "curl -fs http://127.0.0.1:$$ALERTMANAGER_PORT/-/ready"),
        f"{prefix}alert-sink": _service(
            f"{prefix}alert-sink", "alertdrill/platform:dev", sink_env, [am_dir],
            PYTHON_PROBE,
            command='["sh", "-c", "exec uvicorn alert_sink.app:app --host 127.0.0.1 --port $$ALERT_SINK_PORT '
                    '--no-access-log"]'),
    }


def prefix_of(declared: list[str], project: str) -> str:
    """The name prefix the platform's services share ("cache-" of cache-redis and cache-exporter), else the
    compose project's."""
    words = [s.split("-", 1)[0] + "-" for s in declared if "-" in s]
    if declared and len(words) == len(declared) and len(set(words)) == 1:
        return words[0]
    return f"{project}-"


def add(compose_file: Path, found: dict[str, object], project: str) -> list[str]:
    """Add the monitoring services the compose file lacks; what was done, one line each."""
    text = compose_file.read_text()
    declared = list(((yaml.safe_load(text) or {}).get("services") or {}))
    base = compose_file.parent
    rules = found.get("rules") or []
    missing = [k for k in ("prometheus", "alertmanager") if not found.get(k)] + ([] if rules else ["rules"])
    if missing:
        return [f"--with-monitoring: no {', '.join(missing)} found: pass --{missing[0]} (the services mount their folders)"]
    dirs = {"prometheus": _rel(base, Path(str(found["prometheus"])).parent),
            "alertmanager": _rel(base, Path(str(found["alertmanager"])).parent),
            "rules": _rel(base, Path(str(rules[0])).parent)}
    mail = "email_configs" in (base / str(found["alertmanager"])).read_text()
    wanted = services(prefix_of(declared, project), dirs, mail)
    new = {name: block for name, block in wanted.items() if name not in declared}
    if not new:
        return [f"--with-monitoring: {compose_file.name} has {', '.join(wanted)} already"]
    compose_file.write_text(_insert(text, list(new.values())))
    return [f"added {name} to {compose_file.name} ({_image(block)})" for name, block in new.items()]


def _rel(base: Path, folder: Path) -> str:
    return folder.as_posix() if not folder.is_absolute() else folder.relative_to(base).as_posix()


def _image(block: str) -> str:
    return re.search(r"image: (\S+)", block).group(1)  # type: ignore[union-attr]


def _insert(text: str, blocks: list[str]) -> str:
    """The blocks as the last entries of the top-level `services:` mapping, indented as its first entry."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"services:\s*(#.*)?$", line))
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"\S", lines[i]) and not lines[i].startswith("#")),
               len(lines))
    # blank lines and column-0 comments just above the next key belong to it
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    indent = next((re.match(r"\s+", l).group(0) for l in lines[start + 1:end] if l.strip()), "  ")  # type: ignore[union-attr]
    added = [indent + row if row else row for block in blocks for row in block.splitlines()]
    return "\n".join(lines[:end] + added + lines[end:]) + "\n"
