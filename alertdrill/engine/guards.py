"""Guards: snapshots taken before a drill changes something on purpose (the runbook's remediation
edits backend/.env or the denylist), restored when the drill ends so the next drill starts from the
stack as it was. A guard is not a fault: it breaks nothing and is not timed as the injection.

A new guard goes here: a subclass of `Guard` with `save(ctx)` and `restore(ctx)`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alertdrill.engine.faults import restore_env_file
from alertdrill.target.envfile import EnvFile

if TYPE_CHECKING:
    from alertdrill.engine.context import DrillContext


class Guard(ABC):
    name: str = "guard"

    @abstractmethod
    def save(self, ctx: "DrillContext") -> str:
        """Remember the current state; return what was remembered."""

    @abstractmethod
    def restore(self, ctx: "DrillContext") -> str:
        """Put it back if it changed; return what was done ('' if nothing was needed)."""


@dataclass
class EnvFileGuard(Guard):
    """A .env (or any small text file) in a container, as it is now; restore writes it back and
    restarts the service if it changed."""

    service: str
    path: str
    _original: str | None = field(default=None, repr=False)

    @property
    def file(self) -> EnvFile:
        return EnvFile(self.service, self.path)

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"guard {self.file}"

    def save(self, ctx: "DrillContext") -> str:
        self._original = self.file.read(ctx.stack)
        return f"remembered {self.file}"

    def restore(self, ctx: "DrillContext") -> str:
        return restore_env_file(ctx, self.file, self._original)
