"""The lane: one integer (0-9) from which a checkout's compose project, container names, image tag and
port block derive, so two checkouts in different lanes run their stacks side by side on one machine.

    lane 0 (default)   project alertdrill        containers postgres, backend, ...   ports 8000, 9090, ...
    lane 3             project alertdrill-lane3  containers lane3-postgres, ...      ports 8300, 9390, ...

Set it with `[tool.alertdrill] lane = N` or ALERTDRILL_LANE=N (the environment wins). A port whose
variable is set explicitly (BACKEND_PORT=18000) is taken as is, in any lane. Lane 0 is today's stack
exactly, so the runbook reads as written; in another lane the runbook's commands that the drills run are
rewritten at execution time (container names, localhost ports: `follow`), and its compose commands follow
through the environment (COMPOSE_PROJECT_NAME, the port variables, ALERTDRILL_CONTAINER_PREFIX)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from alertdrill.target.defaults import ENV_VAR, LANES, PORT_STEP, parse

__all__ = ["ENV_VAR", "LANES", "PORT_STEP", "parse", "Lane", "current", "overlaps", "rewrite"]
# Compose interpolation variables of docker-compose.test.yml that a lane sets.
PREFIX_VAR = "ALERTDRILL_CONTAINER_PREFIX"
IMAGE_TAG_VAR = "ALERTDRILL_IMAGE_TAG"


@dataclass(frozen=True)
class Lane:
    number: int = 0
    base_project: str = "alertdrill"

    @property
    def project(self) -> str:
        return self.base_project if self.number == 0 else f"{self.base_project}-lane{self.number}"

    @property
    def prefix(self) -> str:
        return "" if self.number == 0 else f"lane{self.number}-"

    @property
    def image_tag(self) -> str:
        # Per lane, so a checkout's build never retags the image another lane's containers are recreated from.
        return "dev" if self.number == 0 else f"dev-lane{self.number}"

    def container(self, service: str) -> str:
        return self.prefix + service

    def shift(self, defaults: Mapping[str, int]) -> dict[str, int]:
        """The default ports moved into this lane's block (an explicitly set variable still wins: Endpoints)."""
        return {name: port + PORT_STEP * self.number for name, port in defaults.items()}

    def compose_env(self, ports: Mapping[str, int], project: str | None = None) -> dict[str, str]:
        """The compose variables that put a stack in this lane ({} for lane 0: today's stack exactly)."""
        if self.number == 0:
            return {}
        return {"COMPOSE_PROJECT_NAME": project or self.project, PREFIX_VAR: self.prefix,
                IMAGE_TAG_VAR: self.image_tag, ENV_VAR: str(self.number), **{k: str(v) for k, v in ports.items()}}

    def follow(self, script: str, services: Iterable[str], port_map: Mapping[int, int]) -> str:
        """The runbook's shell text as this lane runs it: container names in docker commands and
        localhost ports moved to the lane's (port_map: runbook port -> lane port). Lane 0: unchanged."""
        if self.number == 0:
            return script
        return rewrite(script, {s: self.container(s) for s in services}, port_map)


def overlaps(defaults: Mapping[str, int]) -> list[str]:
    """Where one lane's block meets another's: two default ports PORT_STEP*k apart (k < the number of
    lanes) would both be used by lanes k apart. The uniform shift keeps one lane's ports distinct."""
    out = []
    for a, pa in defaults.items():
        for b, pb in defaults.items():
            if a < b and pa != pb and (pa - pb) % PORT_STEP == 0 and abs(pa - pb) // PORT_STEP < len(LANES):
                k = abs(pa - pb) // PORT_STEP
                low, high = (a, b) if pa < pb else (b, a)
                out.append(f"{low} of lane N and {high} of lane N-{k} are both {max(pa, pb)} + {PORT_STEP}*(N-{k})")
    same = {}
    for name, port in defaults.items():
        same.setdefault(port, []).append(name)
    out += [f"{', '.join(names)} share {port} in every lane" for port, names in same.items() if len(names) > 1]
    return out


def current(base_project: str | None = None, env: Mapping[str, str] | None = None) -> Lane:
    """The lane in effect: ALERTDRILL_LANE if set, else `[tool.alertdrill] lane`."""
    from alertdrill.config import current as current_config

    conf = current_config()
    env = os.environ if env is None else env
    raw = env.get(ENV_VAR, "").strip()
    number = parse(raw, f"environment variable {ENV_VAR}") if raw else conf.lane
    return Lane(number, base_project or conf.compose_project)


# -- the rewrite --------------------------------------------------------------------------------------
# A shell word: quoted strings and unquoted characters up to whitespace or an operator.
_WORD = re.compile(r"""(?:'[^']*'|"(?:\\.|[^"\\])*"|\\.|[^\s'"|;&()<>`])+""")
_DOCKER = re.compile(r"\bdocker\s+(?:container\s+)?(exec|logs|restart|kill|stop|start|inspect|ps)\b")
# Options of those subcommands that take a value as the next word (`--since 10m`, `-e K=V`).
_VALUED = {"-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys", "--since", "--until",
           "-n", "--tail", "-t", "--time", "-s", "--signal", "-f", "--format", "--filter", "--type"}
_MULTI = {"restart", "kill", "stop", "start", "inspect"}  # take several container names
_URL_PORT = re.compile(r"\b(localhost|127\.0\.0\.1):(\d{1,5})\b")


def rewrite(script: str, containers: Mapping[str, str], port_map: Mapping[int, int]) -> str:
    """Replace, in `script`, the container of a docker command (`docker exec|logs|restart|kill|stop|start|
    inspect [options] NAME`, `docker ps --filter name=NAME`) when NAME is a key of `containers`, and the
    port of every `localhost:PORT` / `127.0.0.1:PORT` that is a key of `port_map`. Everything else,
    `docker compose ...` included, is left as written."""
    edits: list[tuple[int, int, str]] = []
    for m in _DOCKER.finditer(script):
        edits += _docker_edits(script, m.group(1), m.end(), containers)
    for m in _URL_PORT.finditer(script):
        port = int(m.group(2))
        if port in port_map:
            edits.append((m.start(2), m.end(2), str(port_map[port])))
    for start, end, text in sorted(edits, reverse=True):
        script = script[:start] + text + script[end:]
    return script


def _docker_edits(script: str, sub: str, pos: int, containers: Mapping[str, str]) -> list[tuple[int, int, str]]:
    edits, expect_value, named = [], False, False
    while True:
        gap = re.match(r"[ \t]*(?:\\\n[ \t]*)?", script[pos:])
        pos += gap.end()
        word = _WORD.match(script, pos)
        if word is None:  # end of the command: an operator, a newline or the end of the text
            return edits
        text, pos = word.group(), word.end()
        if expect_value:
            expect_value = False
            if sub == "ps" and text.startswith("name="):
                edits += _name_edit(word.start() + 5, text[5:], containers)
            continue
        if text.startswith("-"):
            if sub == "ps" and text.startswith("--filter=name="):
                edits += _name_edit(word.start() + 14, text[14:], containers)
            expect_value = text in _VALUED
            continue
        if sub == "ps":
            continue
        if not named or sub in _MULTI:
            edits += _name_edit(word.start(), text, containers)
            named = True
            if sub not in _MULTI:
                return edits  # the rest is the command run in the container (exec) or options (logs)


def _name_edit(start: int, name: str, containers: Mapping[str, str]) -> list[tuple[int, int, str]]:
    return [(start, start + len(name), containers[name])] if name in containers else []
