"""Where the project's files are, as the names the rest of the suite has always used. They come from the
active configuration (alertdrill.config: `[tool.alertdrill]` of the user's pyproject.toml, paths resolved
from that file's directory), looked up on every access, never from where alertdrill is installed.

    from alertdrill import project
    project.RULES_FILES        # every rule file the `rules` globs match
    project.config()           # the whole alertdrill.config.Config
"""
from __future__ import annotations

from pathlib import Path

from alertdrill.config import Config, current


def config() -> Config:
    return current()


_NAMES = {
    "PROJECT_ROOT": lambda c: c.root,
    "STATE_DIR": lambda c: c.state_dir,  # rendered drill configs, timelines, load runs
    "COMPOSE_FILE": lambda c: c.compose_file,
    "COMPOSE_PROJECT": lambda c: c.compose_project,
    "RULES_FILES": lambda c: list(c.rules),
    "RULES_FILE": lambda c: c.rules[0],  # the first rule file (single-file callers); prefer RULES_FILES
    "ALERTMANAGER_FILE": lambda c: c.alertmanager,
    "PROMETHEUS_FILE": lambda c: c.prometheus or c.root / "stack" / "prometheus" / "prometheus.yml",
    "RUNBOOK_FILE": lambda c: c.runbook,
    "SCENARIOS_DIR": lambda c: c.scenarios,
    "LOCUSTFILES_DIR": lambda c: c.locustfiles,
}


def __getattr__(name: str) -> Path:
    try:
        return _NAMES[name](current())
    except KeyError:
        raise AttributeError(f"module alertdrill.project has no attribute {name!r}; it has: "
                             f"{', '.join(_NAMES)}, config()") from None
