"""``claudeflow run``: push a JSONL file of Messages requests through the rate limits.

    claudeflow run requests.jsonl -o results.jsonl --rpm 50 --input-tpm 30000 --output-tpm 8000
    claudeflow run requests.jsonl -o results.jsonl --simulate      # offline, no API key

Rerunning the same command after any interruption (Ctrl-C, SIGTERM, SIGKILL, a crash)
resumes: lines already in the results file are skipped (with --retry-failed, failed
ones are sent again). The input ``-`` is stdin. The first Ctrl-C (or SIGTERM)
abandons the lines still queued and waits only for the requests on the wire; a second
one abandons those too. Abandoned lines are not written: the next run does them.

Heavy imports (aiohttp, the Flow) happen only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ._console import abort_early, exit_status, fail, report, say
from ._endpoint import endpoint, simulator_config
from ._flags import EPILOG, add_flags
from ._preflight import preflight
from ._progress import Progress, Tally
from ._settings import RunnerSettings, load_config_file, merge_settings
from ._signals import signals, uncancel

if TYPE_CHECKING:
    from .._config import RateLimits
    from ..limiter import RedisBackend
    from ._options import RunFiles, RunOptions
    from ._wire import WireTracker

__all__ = ["EPILOG", "add_arguments", "main", "register", "run", "simulator_config"]

SIMULATOR_KEY = "sk-simulator"  # any non-empty key works against the simulator


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand to a :mod:`claudeflow.cli` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="send a JSONL file of requests as fast as the limits allow (resumable)",
        # The docstring's first paragraph, without its reST markup.
        description=__doc__.split("\n\n")[0].replace("``", "") if __doc__ else None,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m claudeflow.runner``: the same command without the ``claudeflow`` CLI."""
    parser = argparse.ArgumentParser(
        prog="claudeflow run",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``claudeflow run``; setting flags default to ``None`` (= not given)."""
    add_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``claudeflow run``; returns the exit status."""
    from ._input import STDIN
    from ._log import CorruptFileError
    from ._options import RunFiles
    from ._paths import dead_path, path_problem, writable_problem

    output_problem = writable_problem(args.output)
    if output_problem:  # checked first: the default dead-letter name derives from it
        return fail(f"-o/--output: {output_problem}")
    try:
        settings = _settings(args)
        dead = Path(settings.dead_letter) if settings.dead_letter else dead_path(args.output)
        files = RunFiles(args.input, args.output, dead)
    except (ConfigError, OSError, ValueError) as exc:
        return fail(f"invalid configuration: {exc}")
    problem = path_problem(files, dead_given=settings.dead_letter is not None)
    if settings.retry_failed and files.input == STDIN:
        problem = (
            "--retry-failed needs INPUT as a file, not stdin (the dead letters are copied from it)"
        )
    if problem:
        return fail(problem)
    api_key = os.environ.get("ANTHROPIC_API_KEY") or (SIMULATOR_KEY if settings.simulate else "")
    if not api_key:
        return fail("set ANTHROPIC_API_KEY (or pass --simulate to run offline)")
    try:
        backend = _backend(settings.redis)
    except ConfigError as exc:  # its message never holds the URL (nor its password)
        return fail(f"--redis: {str(exc).removeprefix('url: ')}")
    try:
        return asyncio.run(_main(settings, files, api_key, backend))
    except (CorruptFileError, ConfigError) as exc:
        return fail(str(exc))


def _backend(url: str | None) -> RedisBackend | None:
    """The Redis backend of ``--redis`` (checked here, connected when the Flow starts)."""
    if url is None:
        return None
    from ..limiter import RedisBackend

    return RedisBackend(url)


def _settings(args: argparse.Namespace) -> RunnerSettings:
    from_file = load_config_file(args.config) if args.config else {}
    flags = {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS}
    return merge_settings(from_file, flags)


_NOT_SETTINGS = frozenset({"input", "output", "config", "func", "command"})


async def _main(
    settings: RunnerSettings, files: RunFiles, api_key: str, backend: RedisBackend | None = None
) -> int:
    from ._batches import run_batch_jsonl
    from ._run import run_jsonl

    options = _options(settings)
    tally = Tally()
    stop = asyncio.Event()
    progress = None if settings.quiet else Progress(tally, sys.stderr)
    with signals(stop, tally) as received:
        try:
            async with endpoint(settings) as (base_url, limits):
                # The simulator runs in this process: nothing to check, and its key is any key.
                if not settings.simulate:
                    unreachable = await preflight(_resolved_url(base_url), api_key)
                    if unreachable:
                        return abort_early(unreachable)
                async with _flow(settings, base_url, limits, api_key, options.window, backend) as (
                    flow,
                    wire,
                ):
                    # Refused, not run alone: own limits would overrun the other processes.
                    if backend is not None and backend.mode != "shared":
                        return abort_early(_unshared(backend))
                    runner = run_batch_jsonl if settings.batches else run_jsonl
                    summary = await runner(
                        flow,
                        files,
                        options,
                        tally=tally,
                        stop=stop,
                        progress=progress,
                        secret=api_key,
                        notify=say,
                        wire=wire,
                    )
        except asyncio.CancelledError:  # a second Ctrl-C: in-flight requests abandoned
            uncancel()
            tally.stop_reason = "interrupted"
            summary = tally.summary()
    report(summary, files)
    return exit_status(summary, received)


def _options(settings: RunnerSettings) -> RunOptions:
    from ._options import RunOptions

    return RunOptions(
        window=settings.effective_window,
        fsync_interval_s=settings.fsync_interval,
        progress_interval_s=settings.progress_interval,
        max_line_bytes=settings.max_line_bytes,
        retry_failed=settings.retry_failed,
        # The runner's budget, not the Flow's: it counts what earlier runs spent.
        budget_usd=settings.budget_usd,
    )


def _unshared(backend: RedisBackend) -> str:
    """Why the limits are not shared (the URL in it has its password masked)."""
    return (
        f"{backend.unavailable()}. Check --redis and that the Redis server is up; "
        "without it this run would not see the account's other processes"
    )


def _resolved_url(base_url: str | None) -> str:
    from ..scheduler._flow import DEFAULT_BASE_URL

    return base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL


@contextlib.asynccontextmanager
async def _flow(
    settings: RunnerSettings,
    base_url: str | None,
    limits: RateLimits,
    api_key: str,
    window: int,
    backend: RedisBackend | None = None,
) -> AsyncIterator[tuple[Any, WireTracker]]:
    """A running Flow whose transport is wrapped in a :class:`WireTracker`."""
    from ..retry import RetryPolicy
    from ..scheduler import Flow, QueuePolicy, TokenCounting
    from ..tokens import OutputReservation
    from ..transport import AiohttpTransport
    from ._wire import WireTracker

    retry = (
        RetryPolicy(max_retries=settings.max_retries) if settings.max_retries is not None else None
    )
    url = _resolved_url(base_url)
    wire = WireTracker(AiohttpTransport(url))
    flow = Flow(
        api_key=api_key,
        base_url=url,
        limits=limits,
        concurrency=settings.concurrency,
        # The Flow's queue as large as the runner's window: a full queue never refuses a line.
        queue=QueuePolicy(max_size=window),
        retry=retry,
        tokens=TokenCounting(
            output_reservation=OutputReservation(mode=settings.output_reservation)
        ),
        transport=wire,
        backend=backend,  # None: this process's own buckets
    )
    try:
        async with flow:
            yield flow, wire
    finally:
        await wire.aclose()  # the Flow does not close a transport it was given
