"""A service's .env file inside its container: read it, change some settings, write it back exactly.
The one helper for every edit of a config file in a container (a fault's bad config, a guard's
snapshot, a remediation checked afterwards), through the target interface (alertdrill.target.control:
read_file, write_file), whatever runs the platform."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alertdrill.target.control import StackControl


@dataclass(frozen=True)
class EnvFile:
    service: str
    path: str  # relative to the container's working directory, e.g. backend/.env

    def __str__(self) -> str:
        return f"{self.service}:{self.path}"

    def read(self, target: "StackControl") -> str:
        return target.read_file(self.service, self.path)

    def write(self, target: "StackControl", text: str) -> None:
        target.write_file(self.service, self.path, text)

    def set(self, target: "StackControl", settings: dict[str, str]) -> str:
        """Change KEY=value settings in place; return the text as it was before."""
        before = self.read(target)
        self.write(target, set_env_values(before, settings))
        return before


def set_env_values(text: str, settings: dict[str, str]) -> str:
    """Replace KEY=... lines (or append them), keeping everything else as it was."""
    lines = text.splitlines()
    pending = dict(settings)
    for i, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in pending:
            lines[i] = f"{key}={pending.pop(key)}"
    lines.extend(f"{k}={v}" for k, v in pending.items())
    return "\n".join(lines) + "\n"
