"""The runner's settings: defaults, then a config file (JSON or TOML), then flags.

A config file holds the same names as the long flags (``input-tpm`` or ``input_tpm``);
:data:`SETTING_HELP` lists every one (``claudeflow run --help`` prints it)::

    # claudeflow-run.toml
    rpm = 50
    input_tpm = 30000
    output_tpm = 8000
    concurrency = 8

The API key is never read from a config file: it comes from ``ANTHROPIC_API_KEY``.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from .._config import check_positive
from .._errors import ConfigError
from ..tokens import ReservationMode

__all__ = [
    "SETTING_HELP",
    "RunnerSettings",
    "config_keys_help",
    "load_config_file",
    "merge_settings",
]

_FLOATS = ("rpm", "input_tpm", "output_tpm", "budget_usd")
_REQUIRED_FLOATS = ("minute_seconds", "burst", "fsync_interval", "progress_interval")
_INTS = ("concurrency", "max_line_bytes")
_RESERVATIONS = get_args(ReservationMode)

# Every key a config file may hold (the flag of the same name wins over it).
SETTING_HELP: dict[str, str] = {
    "rpm": "requests per minute (unset: learned from the API's headers)",
    "input_tpm": "input tokens per minute (unset: learned)",
    "output_tpm": "output tokens per minute (unset: learned)",
    "minute_seconds": "length of a limit 'minute' in seconds (default 60)",
    "burst": "bucket size as a fraction of a minute (default 1.0)",
    "concurrency": "requests in flight at once (default 16)",
    "window": "lines held at once, queued or in flight (default max(64, 4 x concurrency))",
    "max_retries": "retries per request (default 8)",
    "output_reservation": "output tokens held per request: max_tokens (default), adaptive, or "
    "as_generated (the 2026 OTPM rule: streamed, charged as generated)",
    "budget_usd": "most USD the results file may cost, earlier runs included: a line starts "
    "only if its worst case (estimated input + max_tokens output) still fits",
    "retry_failed": "true: send the lines whose latest result failed again, into OUTPUT",
    "base_url": "API URL (default $ANTHROPIC_BASE_URL, else https://api.anthropic.com)",
    "dead_letter": "dead-letter file (default OUTPUT with .dead before its suffix: out.dead.jsonl)",
    "fsync_interval": "seconds between fsyncs of the output files (default 1)",
    "progress_interval": "seconds between progress lines (default 1)",
    "max_line_bytes": "longer input lines are bad lines (default 33554432 = 32 MiB)",
    "quiet": "true: no progress display",
    "batches": "true: send every line through the Message Batches API (half price, resumable; "
    "not with retry_failed: retry failures without it, into the same OUTPUT)",
    "redis": "redis://[:password@]host[:port][/db]: share the account's limits with every "
    "other process using that Redis (the password is never printed)",
    "simulate": "true: run against the built-in simulator (offline)",
    # The simulator's own defaults apply to what is not given (claudeflow simulate --help).
    "sim_rpm": "simulator: requests per minute",
    "sim_input_tpm": "simulator: input tokens per minute",
    "sim_output_tpm": "simulator: output tokens per minute",
    "sim_minute_seconds": "simulator: length of its 'minute'",
    "sim_ttft": "simulator: seconds to first token",
    "sim_per_token": "simulator: seconds per output token",
    "sim_seed": "simulator: random seed",
    "sim_fault_529": "simulator: probability of a 529 per request",
    "sim_fault_500": "simulator: probability of a 500 per request",
}


def config_keys_help() -> str:
    """The ``--config`` keys, one per line, for ``claudeflow run --help``."""
    width = max(map(len, SETTING_HELP))
    return "\n".join(f"  {key:<{width}}  {text}" for key, text in SETTING_HELP.items())


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """Every knob of ``claudeflow run`` (see ``claudeflow run --help`` for each).

    The ``sim_*`` fields left ``None`` take the simulator's defaults, and the simulator
    checks them (see :func:`claudeflow.runner._cli.simulator_config`).
    """

    rpm: float | None = None
    input_tpm: float | None = None
    output_tpm: float | None = None
    minute_seconds: float = 60.0
    burst: float = 1.0
    concurrency: int = 16
    window: int | None = None
    max_retries: int | None = None
    output_reservation: ReservationMode = "max_tokens"
    budget_usd: float | None = None
    retry_failed: bool = False
    base_url: str | None = None
    dead_letter: str | None = None
    fsync_interval: float = 1.0
    progress_interval: float = 1.0
    max_line_bytes: int = 32 * 1024 * 1024
    quiet: bool = False
    batches: bool = False
    redis: str | None = None
    simulate: bool = False
    sim_rpm: float | None = None
    sim_input_tpm: float | None = None
    sim_output_tpm: float | None = None
    sim_minute_seconds: float | None = None
    sim_ttft: float | None = None
    sim_per_token: float | None = None
    sim_seed: int | None = None
    sim_fault_529: float | None = None
    sim_fault_500: float | None = None

    def __post_init__(self) -> None:
        for name in _FLOATS:
            check_positive(name, getattr(self, name))
        for name in _REQUIRED_FLOATS:
            check_positive(name, getattr(self, name), allow_none=False)
        for name in _INTS:
            _check_int(name, getattr(self, name), minimum=1)
        if self.window is not None:
            _check_int("window", self.window, minimum=1)
        if self.max_retries is not None:
            _check_int("max_retries", self.max_retries, minimum=0)
        for name in ("quiet", "simulate", "retry_failed", "batches"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(name, f"must be true or false, got {getattr(self, name)!r}")
        if self.retry_failed and self.batches:
            raise ConfigError(
                "retry_failed",
                "cannot be combined with --batches; retry the failed lines without "
                "--batches, into the same OUTPUT (either kind of run resumes the other's)",
            )
        if self.output_reservation not in _RESERVATIONS:
            raise ConfigError(
                "output_reservation",
                f"must be one of {', '.join(_RESERVATIONS)}, got {self.output_reservation!r}",
            )
        for name in ("base_url", "dead_letter", "redis"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(name, "must be a non-empty string")

    @property
    def effective_window(self) -> int:
        """Requests held at once: enough to keep every concurrency slot busy."""
        return self.window if self.window is not None else max(64, 4 * self.concurrency)


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a ``.json`` or ``.toml`` config file into setting names and values."""
    text = path.read_bytes()
    if path.suffix == ".toml":
        data: Any = tomllib.loads(text.decode("utf-8"))
    elif path.suffix == ".json":
        data = json.loads(text)
    else:
        raise ConfigError("config", f"{path}: use a .json or .toml file")
    if not isinstance(data, dict):
        raise ConfigError("config", f"{path}: must hold a table/object of settings")
    # Dashes accepted: a config file may use the flag spelling (input-tpm) or the field's.
    return {key.replace("-", "_"): value for key, value in data.items()}


def merge_settings(*layers: Mapping[str, Any]) -> RunnerSettings:
    """Later layers win; ``None`` in a layer means "not given here"."""
    known = {field.name for field in dataclasses.fields(RunnerSettings)}
    values: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key in ("api_key", "anthropic_api_key"):
                raise ConfigError(key, "is never read from a config file; set ANTHROPIC_API_KEY")
            if key not in known:
                raise ConfigError(key, "unknown setting")
            if value is not None:
                values[key] = value
    return RunnerSettings(**values)


def _check_int(argument: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(argument, f"must be an int >= {minimum}, got {value!r}")
