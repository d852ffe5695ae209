"""``claudeflow run``: push a JSONL file of Messages requests through the rate limits.

    claudeflow run requests.jsonl -o results.jsonl --rpm 50 --input-tpm 30000 --output-tpm 8000
    claudeflow run requests.jsonl -o results.jsonl --simulate      # offline, no API key

Rerunning the same command after any interruption (Ctrl-C, SIGKILL, a crash) resumes:
lines already in the results file are skipped. The first Ctrl-C stops reading and lets
the requests in flight finish; a second one abandons them (they are redone next time).

Exit status: 0 every line succeeded; 1 some failed or were invalid (see the dead-letter
file), or a budget stopped the run; 2 bad usage or configuration; 130 interrupted.
Heavy imports (aiohttp, the Flow) happen only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ._progress import Progress, RunSummary, Tally
from ._settings import RunnerSettings, load_config_file, merge_settings

if TYPE_CHECKING:
    from .._config import RateLimits
    from ._run import RunFiles

__all__ = ["add_arguments", "main", "register", "run"]

SIMULATOR_KEY = "sk-simulator"  # any non-empty key works against the simulator
EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand to a :mod:`claudeflow.cli` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="send a JSONL file of requests as fast as the limits allow (resumable)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_arguments(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m claudeflow.runner``: the same command without the ``claudeflow`` CLI."""
    parser = argparse.ArgumentParser(prog="claudeflow run", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``claudeflow run``; setting flags default to ``None`` (= not given)."""
    parser.add_argument("input", type=Path, help="requests, one JSON object per line")
    parser.add_argument("-o", "--output", type=Path, required=True, help="results (JSONL)")
    parser.add_argument("--dead-letter", help="failed lines (default: OUTPUT's name + .dead)")
    parser.add_argument("--config", type=Path, help="settings file (.json or .toml)")
    limits = parser.add_argument_group("limits (unset ones are learned from the API)")
    limits.add_argument("--rpm", type=float, help="requests per minute")
    limits.add_argument("--input-tpm", type=float, help="input tokens per minute")
    limits.add_argument("--output-tpm", type=float, help="output tokens per minute")
    limits.add_argument("--minute-seconds", type=float, help="length of a limit 'minute'")
    limits.add_argument("--burst", type=float, help="bucket size as a fraction of a minute")
    flow = parser.add_argument_group("requests")
    flow.add_argument("--concurrency", type=int, help="requests in flight (default 16)")
    flow.add_argument("--window", type=int, help="requests held in memory at once")
    flow.add_argument("--max-retries", type=int, help="retries per request (default 8)")
    flow.add_argument("--budget-usd", type=float, help="stop starting requests past this cost")
    flow.add_argument("--base-url", help="API URL (default $ANTHROPIC_BASE_URL or the real API)")
    out = parser.add_argument_group("output")
    out.add_argument("--fsync-interval", type=float, help="seconds between fsyncs (default 1)")
    out.add_argument("--progress-interval", type=float, help="seconds between progress lines")
    out.add_argument("--max-line-bytes", type=int, help="longer input lines are bad lines")
    out.add_argument("--quiet", action="store_true", default=None, help="no progress display")
    sim = parser.add_argument_group("built-in simulator")
    sim.add_argument("--simulate", action="store_true", default=None, help="run offline")
    sim.add_argument("--sim-rpm", type=float)
    sim.add_argument("--sim-input-tpm", type=float)
    sim.add_argument("--sim-output-tpm", type=float)
    sim.add_argument("--sim-minute-seconds", type=float)
    sim.add_argument("--sim-ttft", type=float, help="seconds to first token")
    sim.add_argument("--sim-per-token", type=float, help="seconds per output token")
    sim.add_argument("--sim-seed", type=int)
    sim.add_argument("--sim-fault-529", type=float, help="probability of a 529 per request")
    sim.add_argument("--sim-fault-500", type=float, help="probability of a 500 per request")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``claudeflow run``; returns the exit status."""
    from ._log import CorruptFileError
    from ._run import RunFiles

    try:
        settings = _settings(args)
        dead = Path(settings.dead_letter) if settings.dead_letter else _dead_path(args.output)
        files = RunFiles(args.input, args.output, dead)
    except (ConfigError, OSError, ValueError) as exc:
        return _fail(f"invalid configuration: {exc}")
    if not args.input.is_file():
        return _fail(f"input file not found: {args.input}")
    api_key = os.environ.get("ANTHROPIC_API_KEY") or (SIMULATOR_KEY if settings.simulate else "")
    if not api_key:
        return _fail("set ANTHROPIC_API_KEY (or pass --simulate to run offline)")
    try:
        return asyncio.run(_main(settings, files, api_key))
    except (CorruptFileError, ConfigError) as exc:
        return _fail(str(exc))


def _settings(args: argparse.Namespace) -> RunnerSettings:
    from_file = load_config_file(args.config) if args.config else {}
    flags = {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS}
    return merge_settings(from_file, flags)


_NOT_SETTINGS = frozenset({"input", "output", "config", "func", "command"})


def _dead_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.dead{output.suffix or '.jsonl'}")


async def _main(settings: RunnerSettings, files: RunFiles, api_key: str) -> int:
    from ._run import RunOptions, run_jsonl

    options = RunOptions(
        window=settings.effective_window,
        fsync_interval_s=settings.fsync_interval,
        progress_interval_s=settings.progress_interval,
        max_line_bytes=settings.max_line_bytes,
    )
    tally = Tally()
    stop = asyncio.Event()
    progress = None if settings.quiet else Progress(tally, sys.stderr)
    with _signals(stop, tally):
        try:
            async with _endpoint(settings) as (base_url, limits):
                async with _flow(settings, base_url, limits, api_key, options.window) as flow:
                    summary = await run_jsonl(
                        flow,
                        files,
                        options,
                        tally=tally,
                        stop=stop,
                        progress=progress,
                        secret=api_key,
                        notify=_say,
                    )
        except asyncio.CancelledError:  # a second Ctrl-C: in-flight requests abandoned
            _uncancel()
            tally.stop_reason = "interrupted"
            summary = tally.summary()
    _report(summary, files)
    return _exit_status(summary)


@contextlib.asynccontextmanager
async def _endpoint(settings: RunnerSettings) -> AsyncIterator[tuple[str | None, RateLimits]]:
    """The API to call (the real one, or an in-process simulator) and the limits to use."""
    from .._config import RateLimits

    given = RateLimits(
        rpm=settings.rpm,
        input_tpm=settings.input_tpm,
        output_tpm=settings.output_tpm,
        window_s=settings.minute_seconds,
        burst=settings.burst,
    )
    if not settings.simulate:
        yield settings.base_url, given
        return
    from ..simulator import FaultConfig, SimulatorConfig, run_simulator

    config = SimulatorConfig(
        rpm=settings.sim_rpm,
        input_tpm=settings.sim_input_tpm,
        output_tpm=settings.sim_output_tpm,
        minute_seconds=settings.sim_minute_seconds,
        ttft_s=settings.sim_ttft,
        per_token_s=settings.sim_per_token,
        seed=settings.sim_seed,
        faults=FaultConfig(error_529=settings.sim_fault_529, error_500=settings.sim_fault_500),
    )
    if given.rpm is None and given.input_tpm is None and given.output_tpm is None:
        # No client limits given: tell the Flow the simulator's.
        given = RateLimits(
            rpm=config.rpm,
            input_tpm=config.input_tpm,
            output_tpm=config.output_tpm,
            window_s=config.minute_seconds,
            burst=settings.burst,
        )
    async with run_simulator(config) as sim:
        _say(f"claudeflow run: simulator at {sim.url}")
        yield sim.url, given


@contextlib.asynccontextmanager
async def _flow(
    settings: RunnerSettings,
    base_url: str | None,
    limits: RateLimits,
    api_key: str,
    window: int,
) -> AsyncIterator[Any]:
    from ..retry import RetryPolicy
    from ..scheduler import Flow

    retry = (
        RetryPolicy(max_retries=settings.max_retries) if settings.max_retries is not None else None
    )
    flow = Flow(
        api_key=api_key,
        base_url=base_url,
        limits=limits,
        concurrency=settings.concurrency,
        max_queue=window,
        retry=retry,
        budget_usd=settings.budget_usd,
    )
    async with flow:
        yield flow


@contextlib.contextmanager
def _signals(stop: asyncio.Event, tally: Tally) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM): finish what is in flight. Second: abandon it."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set():
            if task is not None:
                task.cancel()
            return
        stop.set()
        tally.stop_reason = "interrupted"
        _say(
            "\nclaudeflow run: stopping after the requests in flight "
            "(Ctrl-C again to abandon them); rerun the same command to resume"
        )

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


def _report(summary: RunSummary, files: RunFiles) -> None:
    lines = [summary.render(), f"  results   {files.output}"]
    if summary.failed or summary.invalid:
        lines.append(
            f"  dead letters: {files.dead_letter} "
            f"(feed it back as input to retry: claudeflow run {files.dead_letter} -o ...)"
        )
    if summary.stop_reason:
        lines.append("  rerun the same command to continue where this run stopped")
    _say("\n".join(lines))


def _exit_status(summary: RunSummary) -> int:
    if summary.stop_reason == "interrupted":
        return EXIT_INTERRUPTED
    if summary.stop_reason or summary.failed or summary.invalid:
        return EXIT_FAILURES
    return EXIT_OK


def _fail(message: str) -> int:
    _say(f"claudeflow run: {message}")
    return EXIT_USAGE


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
