"""What one run is given: its files (:class:`RunFiles`) and its pace (:class:`RunOptions`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .._config import check_positive
from .._errors import ConfigError
from ._input import STDIN

__all__ = ["RunFiles", "RunOptions"]


@dataclass(frozen=True, slots=True)
class RunFiles:
    """Where requests come from (``Path("-")``: stdin) and where results and dead letters go.

    Missing directories of the output files are created when they are first written.
    """

    input: Path
    output: Path
    dead_letter: Path

    def __post_init__(self) -> None:
        paths = {"input": self.input, "output": self.output, "dead_letter": self.dead_letter}
        for name, path in paths.items():
            if not isinstance(path, Path):
                raise ConfigError(name, f"must be a pathlib.Path, got {type(path).__name__}")
        # Resolved, so that two spellings of one file (a symlink, "./x") count as one.
        if len({p if p == STDIN else p.resolve() for p in paths.values()}) != 3:
            raise ConfigError("output", "input, output and dead-letter files must all differ")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How the runner paces itself.

    :param window: most requests held at once (queued in the Flow or in flight)
    :param fsync_interval_s: longest time between ``fsync`` calls on the output files
    :param progress_interval_s: seconds between progress lines
    :param max_line_bytes: longer input lines are reported as bad
    :param retry_failed: send the lines whose latest result failed again (the input must
        be a file, not stdin: the dead letters are copied from it)
    :param budget_usd: most USD the results file may account for, earlier runs included
    """

    window: int = 64
    fsync_interval_s: float = 1.0
    progress_interval_s: float = 1.0
    max_line_bytes: int = 32 * 1024 * 1024
    retry_failed: bool = False
    budget_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("window", "max_line_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be an int >= 1, got {value!r}")
        check_positive("fsync_interval_s", self.fsync_interval_s, allow_none=False)
        check_positive("progress_interval_s", self.progress_interval_s, allow_none=False)
        check_positive("budget_usd", self.budget_usd)
        if not isinstance(self.retry_failed, bool):
            raise ConfigError("retry_failed", f"must be a bool, got {self.retry_failed!r}")
