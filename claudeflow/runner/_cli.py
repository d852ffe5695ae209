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
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import ConfigError
from ._progress import Progress, RunSummary, Tally
from ._settings import RunnerSettings, config_keys_help, load_config_file, merge_settings

if TYPE_CHECKING:
    from .._config import RateLimits
    from ..limiter import RedisBackend
    from ..simulator import SimulatorConfig
    from ._run import RunFiles, RunOptions
    from ._wire import WireTracker

__all__ = ["EPILOG", "add_arguments", "main", "register", "run", "simulator_config"]

SIMULATOR_KEY = "sk-simulator"  # any non-empty key works against the simulator
EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_ABORTED = 0, 1, 2, 3
PREFLIGHT_TIMEOUT_S = 15.0

_EPILOG = """\
input lines:
  {"custom_id": "q1", "priority": "high", "model": ..., "max_tokens": ..., "messages": [...]}
  or {"custom_id": "q1", "params": {"model": ..., ...}} (not both styles in one line).
  custom_id is optional but must be unique in the file; a line without one is known by
  its content (content-<hash of its JSON>), so adding or removing lines keeps resuming
  exact. Blank lines are skipped. Bad lines are reported (line number, reason) in the
  results file as invalid. INPUT - reads stdin.

files:
  OUTPUT            one result per line: custom_id, status (succeeded, failed, invalid),
                    then the response or the error (type, message), line number, usage,
                    cost_usd, attempts; with --retry-failed a line can have several
                    records: the latest is its outcome
  OUTPUT.dead.jsonl every line whose latest result is not a success, exactly as it was
                    in the input (created only when there is one); retry them into
                    OUTPUT with the same command and --retry-failed
  missing directories of OUTPUT and the dead-letter file are created

exit status:
  0    every input line is in OUTPUT as succeeded
  1    OUTPUT holds failed or invalid lines (this run's or an earlier run's: see the
       dead-letter file), or --budget-usd stopped the run (the budget counts what OUTPUT
       already cost, so rerunning needs a bigger one)
  2    bad usage: arguments, config file, input/output paths (nothing was sent)
  3    aborted: the API refused the key (401, or 403 for every line tried before any
       success) or could not be reached; the cause is printed; lines not done stay not
       done, rerun once it is fixed. A 403 for some lines only (a model the key may not
       use) is those lines' failure
  130  interrupted by Ctrl-C (143: by SIGTERM); rerun the same command to resume

--config keys (.toml or .json; the same names as the long flags, - or _; flags win):
<config keys>
  example (run.toml):
    rpm = 50
    input_tpm = 30000
    output_tpm = 8000
    concurrency = 8
    max_retries = 4
    budget_usd = 5.0
    redis = "redis://127.0.0.1:6379/0"
  ANTHROPIC_API_KEY is never read from a config file.
"""
EPILOG = _EPILOG.replace("<config keys>", config_keys_help())


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand to a :mod:`claudeflow.cli` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="send a JSONL file of requests as fast as the limits allow (resumable)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
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
    parser.add_argument("input", type=Path, help="requests, one JSON object per line (- : stdin)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="results (JSONL)")
    parser.add_argument("--dead-letter", help="failed lines (default: OUTPUT's name + .dead)")
    parser.add_argument(
        "--config", type=Path, help="settings file (.json or .toml; keys listed below)"
    )
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
    flow.add_argument(
        "--budget-usd", type=float, help="most USD OUTPUT may cost, earlier runs included"
    )
    flow.add_argument(
        "--retry-failed",
        action="store_true",
        default=None,
        help="send the lines whose latest result failed again, into OUTPUT",
    )
    flow.add_argument("--base-url", help="API URL (default $ANTHROPIC_BASE_URL or the real API)")
    flow.add_argument(  # runner/_batches.py
        "--batches", action="store_true", default=None, help="use Message Batches (resumable)"
    )
    flow.add_argument(
        "--redis",
        metavar="URL",
        help="share the limits through Redis with the account's other processes",
    )
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
    from ._input import STDIN
    from ._log import CorruptFileError
    from ._run import RunFiles

    output_problem = _writable_problem(args.output)
    if output_problem:  # checked first: the default dead-letter name derives from it
        return _fail(f"-o/--output: {output_problem}")
    try:
        settings = _settings(args)
        dead = Path(settings.dead_letter) if settings.dead_letter else _dead_path(args.output)
        files = RunFiles(args.input, args.output, dead)
    except (ConfigError, OSError, ValueError) as exc:
        return _fail(f"invalid configuration: {exc}")
    problem = _path_problem(files, dead_given=settings.dead_letter is not None)
    if settings.retry_failed and files.input == STDIN:
        problem = (
            "--retry-failed needs INPUT as a file, not stdin (the dead letters are copied from it)"
        )
    if problem:
        return _fail(problem)
    api_key = os.environ.get("ANTHROPIC_API_KEY") or (SIMULATOR_KEY if settings.simulate else "")
    if not api_key:
        return _fail("set ANTHROPIC_API_KEY (or pass --simulate to run offline)")
    try:
        backend = _backend(settings.redis)
    except ConfigError as exc:  # its message never holds the URL (nor its password)
        return _fail(f"--redis: {str(exc).removeprefix('url: ')}")
    try:
        return asyncio.run(_main(settings, files, api_key, backend))
    except (CorruptFileError, ConfigError) as exc:
        return _fail(str(exc))


def _backend(url: str | None) -> RedisBackend | None:
    """The Redis backend of ``--redis`` (checked here, connected when the Flow starts)."""
    if url is None:
        return None
    from ..limiter import RedisBackend

    return RedisBackend(url)


def _path_problem(files: RunFiles, *, dead_given: bool) -> str:
    """What keeps the run from reading its input or writing its outputs ("" if nothing)."""
    from ._input import STDIN

    if files.input != STDIN:
        if not files.input.is_file():
            what = "is a directory" if files.input.is_dir() else "not found"
            return f"input file {what}: {files.input}"
        if not os.access(files.input, os.R_OK):
            return f"input file not readable: {files.input}"
    outputs = (("-o/--output", files.output), ("--dead-letter", files.dead_letter))
    for flag, path in outputs:
        if flag == "--dead-letter" and not dead_given:
            flag = "dead-letter file (from -o/--output)"
        problem = _writable_problem(path)
        if problem:
            return f"{flag}: {problem}"
    return ""


def _writable_problem(path: Path) -> str:
    if path.is_dir():
        return f"{path} is a directory; give a file name"
    if path.exists():
        return "" if os.access(path, os.W_OK) else f"{path} is not writable"
    # Missing directories are created on the first write: the nearest one that exists
    # must let us create them (or the file).
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create files in {parent}"
    return ""


def _settings(args: argparse.Namespace) -> RunnerSettings:
    from_file = load_config_file(args.config) if args.config else {}
    flags = {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS}
    return merge_settings(from_file, flags)


_NOT_SETTINGS = frozenset({"input", "output", "config", "func", "command"})


def _dead_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.dead{output.suffix or '.jsonl'}")


async def _main(
    settings: RunnerSettings, files: RunFiles, api_key: str, backend: RedisBackend | None = None
) -> int:
    from ._batches import run_batch_jsonl
    from ._run import run_jsonl

    options = _options(settings)
    tally = Tally()
    stop = asyncio.Event()
    progress = None if settings.quiet else Progress(tally, sys.stderr)
    with _signals(stop, tally) as received:
        try:
            async with _endpoint(settings) as (base_url, limits):
                if not settings.simulate:
                    unreachable = await _preflight(base_url, api_key)
                    if unreachable:
                        return _abort_early(unreachable)
                async with _flow(settings, base_url, limits, api_key, options.window, backend) as (
                    flow,
                    wire,
                ):
                    if backend is not None and backend.mode != "shared":
                        return _abort_early(_unshared(backend))
                    runner = run_batch_jsonl if settings.batches else run_jsonl
                    summary = await runner(
                        flow,
                        files,
                        options,
                        tally=tally,
                        stop=stop,
                        progress=progress,
                        secret=api_key,
                        notify=_say,
                        wire=wire,
                    )
        except asyncio.CancelledError:  # a second Ctrl-C: in-flight requests abandoned
            _uncancel()
            tally.stop_reason = "interrupted"
            summary = tally.summary()
    _report(summary, files)
    return _exit_status(summary, received)


def _options(settings: RunnerSettings) -> RunOptions:
    from ._run import RunOptions

    return RunOptions(
        window=settings.effective_window,
        fsync_interval_s=settings.fsync_interval,
        progress_interval_s=settings.progress_interval,
        max_line_bytes=settings.max_line_bytes,
        retry_failed=settings.retry_failed,
        # The runner's budget, not the Flow's: it counts what earlier runs spent.
        budget_usd=settings.budget_usd,
    )


def _abort_early(why: str) -> int:
    _say(f"claudeflow run: aborted before sending anything: {why}")
    return EXIT_ABORTED


def _unshared(backend: RedisBackend) -> str:
    """Why the limits are not shared (the URL in it has its password masked)."""
    return (
        f"{backend.unavailable()}. Check --redis and that the Redis server is up; "
        "without it this run would not see the account's other processes"
    )


def simulator_config(settings: RunnerSettings) -> SimulatorConfig:
    """The simulator ``--simulate`` starts: the ``sim_*`` settings given, else the
    simulator's own defaults (those of ``claudeflow simulate``)."""
    from ..simulator import DEFAULT_LIMITS, FaultConfig, SimulatorConfig

    given = {
        "rpm": settings.sim_rpm,
        "input_tpm": settings.sim_input_tpm,
        "output_tpm": settings.sim_output_tpm,
        "minute_seconds": settings.sim_minute_seconds,
        "ttft_s": settings.sim_ttft,
        "per_token_s": settings.sim_per_token,
        "seed": settings.sim_seed,
    }
    faults = {"error_529": settings.sim_fault_529, "error_500": settings.sim_fault_500}
    return SimulatorConfig(
        **(dict(DEFAULT_LIMITS) | _given(given)), faults=FaultConfig(**_given(faults))
    )


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def _resolved_url(base_url: str | None) -> str:
    from ..scheduler._flow import DEFAULT_BASE_URL

    return base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL


async def _preflight(base_url: str | None, api_key: str) -> str:
    """One free request (``GET /v1/models``) before any line: is the API there, is the key
    accepted? Returns what is wrong ("" when nothing is). Any other answer (404 from a
    simulator, 5xx) is left to the run's own retries."""
    from .._config import Timeouts
    from .._errors import TransportError, status_error
    from ..scheduler._flow import DEFAULT_API_VERSION
    from ..transport import AiohttpTransport

    url = _resolved_url(base_url)
    transport = AiohttpTransport(
        url, timeouts=Timeouts(connect=PREFLIGHT_TIMEOUT_S, total=PREFLIGHT_TIMEOUT_S)
    )
    headers = {"x-api-key": api_key, "anthropic-version": DEFAULT_API_VERSION}
    try:
        response = await transport.send("GET", "/v1/models", headers=headers)
        body = await response.read()
    except TransportError as error:
        return (
            f"cannot reach the API at {url} ({type(error).__name__}: {error}). "
            "Check --base-url / ANTHROPIC_BASE_URL, the network and any proxy"
        )
    finally:
        await transport.aclose()
    if response.status == 401:
        refused = status_error(response.status, response.headers, body)
        return (
            f"the API at {url} rejected the API key (401 {refused}). "
            "Check ANTHROPIC_API_KEY, and that --base-url is the API the key belongs to"
        )
    if response.status == 403:  # not even the model list: no request would be allowed
        denied = status_error(response.status, response.headers, body)
        return (
            f"the API at {url} does not allow this API key anything (403 {denied}). "
            "Check the key's workspace and permissions"
        )
    return ""


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
    from ..simulator import run_simulator

    config = simulator_config(settings)
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
    backend: RedisBackend | None = None,
) -> AsyncIterator[tuple[Any, WireTracker]]:
    """A running Flow whose transport is wrapped in a :class:`WireTracker`."""
    from ..retry import RetryPolicy
    from ..scheduler import Flow, QueuePolicy
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
        queue=QueuePolicy(max_size=window),
        retry=retry,
        transport=wire,
        backend=backend,  # None: this process's own buckets
    )
    try:
        async with flow:
            yield flow, wire
    finally:
        await wire.aclose()  # the Flow does not close a transport it was given


@contextlib.contextmanager
def _signals(stop: asyncio.Event, tally: Tally) -> Iterator[list[int]]:
    """First Ctrl-C (or SIGTERM): abandon the queued lines, await the ones on the wire.
    Second: abandon those too. Yields the signals received, in order."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if stop.is_set() and tally.stop_reason == "interrupted":
            if task is not None:
                task.cancel()
            return
        tally.stop_reason = "interrupted"
        stop.set()
        _say(
            f"\nclaudeflow run: {signal.Signals(signum).name}: stopping; queued lines are "
            "abandoned, waiting only for the requests on the wire "
            "(Ctrl-C again to abandon them too); rerun the same command to resume"
        )

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows
            loop.add_signal_handler(sig, on_signal, int(sig))
            installed.append(sig)
    try:
        yield received
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


def _report(summary: RunSummary, files: RunFiles) -> None:
    lines = [summary.render(), f"  results      {files.output}"]
    if summary.file_unsucceeded:
        lines.append(
            f"  dead letters {files.dead_letter}: {summary.file_unsucceeded:,} line(s) as given "
            f"(the reasons are in {files.output}; retry them into it: the same command "
            "with --retry-failed)"
        )
    if summary.abort_message:
        lines.append("  fix the cause above, then rerun the same command (nothing is lost)")
    elif summary.stop_reason == "budget reached":
        lines.append(
            f"  the budget covers what {files.output} already cost: continue with a larger "
            "--budget-usd"
        )
    elif summary.stop_reason:
        lines.append("  rerun the same command to continue where this run stopped")
    _say("\n".join(lines))


def _exit_status(summary: RunSummary, signals: Sequence[int] = ()) -> int:
    if summary.abort_message:
        return EXIT_ABORTED
    if summary.stop_reason == "interrupted":
        return 128 + (signals[0] if signals else signal.SIGINT)
    if summary.stop_reason or summary.file_unsucceeded:
        return EXIT_FAILURES
    return EXIT_OK


def _fail(message: str) -> int:
    _say(f"claudeflow run: {message}")
    return EXIT_USAGE


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
