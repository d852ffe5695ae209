"""``claudeflow simulate``: serve the simulated API until Ctrl-C.

Imports stay light at module level (``claudeflow --help`` must be fast); aiohttp and
the simulator load only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._config import SimulatorConfig
    from ._server import SimulatorServer

__all__ = ["register"]

# The defaults shown by --help are SimulatorConfig's own (and DEFAULT_LIMITS): one
# place for each value. Reading them means importing the config module, which is light.


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand to a :mod:`claudeflow.cli` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="run the offline Anthropic API simulator",
        description="Serve a simulated Claude Messages API with real rate limits.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    _limit_args(parser.add_argument_group("limits (per API key and model class)"))
    _model_args(parser.add_argument_group("model behaviour"))
    _fault_args(parser.add_argument_group("fault injection (probabilities per request)"))
    parser.set_defaults(func=run)


def _limit_args(group: argparse._ArgumentGroup) -> None:
    from ._config import DEFAULT_LIMITS, SimulatorConfig

    defaults = SimulatorConfig()

    add = group.add_argument
    add("--rpm", type=float, default=DEFAULT_LIMITS["rpm"], help="requests per minute")
    add("--input-tpm", type=float, default=DEFAULT_LIMITS["input_tpm"], help="input tokens/min")
    add("--output-tpm", type=float, default=DEFAULT_LIMITS["output_tpm"], help="output tokens/min")
    add("--unlimited", action="store_true", help="no Messages limits at all")
    add(
        "--minute-seconds",
        type=float,
        default=defaults.minute_seconds,
        help="real s per simulated min",
    )
    add("--burst", type=float, default=defaults.burst, help="bucket capacity, (0, 1]")
    add(
        "--otpm-mode",
        choices=("actual", "reserve_max_tokens"),
        default=defaults.otpm_mode,
        help="OTPM rule",
    )
    add("--count-cache-reads", action="store_true", help="cache reads count toward ITPM")
    add(
        "--count-tokens-rpm",
        type=float,
        default=None,
        help="token counting RPM, unlimited if unset",
    )
    add("--batch-rpm", type=float, default=None, help="batch endpoints RPM, unlimited if unset")
    add(
        "--batch-process-rpm",
        type=float,
        default=None,
        help="batch processing RPM, instant if unset",
    )
    add("--retry-after-ms", action="store_true", help="also send retry-after-ms")
    add("--api-key", action="append", default=None, help="accepted key, repeatable; any if unset")


def _model_args(group: argparse._ArgumentGroup) -> None:
    from ._config import SimulatorConfig

    defaults = SimulatorConfig()
    add = group.add_argument
    add("--ttft", type=float, default=defaults.ttft_s, help="seconds to first token")
    add("--per-token", type=float, default=defaults.per_token_s, help="seconds per token")
    add("--seed", type=int, default=defaults.seed, help="seed of reply lengths and faults")
    add("--models", default=None, help="comma-separated accepted model ids; the catalogue if unset")
    add("--extra-models", default=None, help="comma-separated ids accepted besides those")
    add(
        "--cache-min-tokens",
        type=int,
        default=defaults.cache_min_tokens,
        help="shortest cached prefix",
    )
    add(
        "--ping-interval",
        type=float,
        default=defaults.ping_interval_s,
        help="s of stream silence per ping",
    )


def _fault_args(group: argparse._ArgumentGroup) -> None:
    for name, help_text in (
        ("529", "overloaded_error"),
        ("500", "api_error"),
        ("504", "timeout_error"),
        ("stream-error", "error event mid-stream"),
        ("drop", "connection drop"),
        ("ramp", "429 ramp_limit_exceeded"),
        ("spend-cap", "429 enforced_spend_limit_reached"),
    ):
        group.add_argument(f"--fault-{name}", type=float, default=0.0, help=help_text)
    group.add_argument(
        "--spend-cap-after", type=int, default=None, metavar="N", help="spend cap after N requests"
    )
    group.add_argument(
        "--overload-window",
        type=float,
        nargs=2,
        default=None,
        metavar=("START", "END"),
        help="every request 529s between these seconds since start",
    )


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    """The :class:`SimulatorConfig` the parsed arguments describe (raises ConfigError)."""
    from ._config import BatchConfig, FaultConfig, SimulatorConfig

    faults = FaultConfig(
        error_529=args.fault_529,
        error_500=args.fault_500,
        error_504=args.fault_504,
        stream_error=args.fault_stream_error,
        connection_drop=args.fault_drop,
        ramp_429=args.fault_ramp,
        spend_cap_rate=args.fault_spend_cap,
        spend_cap_after=args.spend_cap_after,
        overload_window=tuple(args.overload_window) if args.overload_window else None,
    )
    unlimited = args.unlimited
    return SimulatorConfig(
        rpm=None if unlimited else args.rpm,
        input_tpm=None if unlimited else args.input_tpm,
        output_tpm=None if unlimited else args.output_tpm,
        minute_seconds=args.minute_seconds,
        burst=args.burst,
        otpm_mode=args.otpm_mode,
        count_cache_reads=args.count_cache_reads,
        count_tokens_rpm=args.count_tokens_rpm,
        batch=BatchConfig(rpm=args.batch_rpm, process_rpm=args.batch_process_rpm),
        ttft_s=args.ttft,
        per_token_s=args.per_token,
        seed=args.seed,
        models=frozenset(args.models.split(",")) if args.models else None,
        extra_models=frozenset(args.extra_models.split(",")) if args.extra_models else frozenset(),
        ping_interval_s=args.ping_interval,
        api_keys=frozenset(args.api_key) if args.api_key else None,
        faults=faults,
        retry_after_ms=args.retry_after_ms,
        cache_min_tokens=args.cache_min_tokens,
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``claudeflow simulate``; returns the exit code."""
    from .._errors import ConfigError

    try:
        config = build_config(args)
    except ConfigError as exc:
        print(f"claudeflow simulate: invalid {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(config, args.host, args.port))
    except OSError as exc:  # e.g. the port is taken
        print(
            f"claudeflow simulate: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    return 0


async def _serve(config: SimulatorConfig, host: str, port: int) -> None:
    from ._server import run_simulator

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # A signal sets an event instead of raising, so the server shuts down cleanly.
        loop.add_signal_handler(sig, stop.set)
    try:
        async with run_simulator(config, host=host, port=port) as server:
            # Flushed: a script waiting for the banner on a pipe learns the URL at once.
            print(describe(server, config), flush=True)
            await stop.wait()
            print("claudeflow simulate: shutting down", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def describe(server: SimulatorServer, config: SimulatorConfig) -> str:
    """Startup banner: address, limits and time scale (never the API keys)."""

    def limit(value: float | None, unit: str) -> str:
        return "unlimited" if value is None else f"{value:,.0f} {unit}/min"

    # Only a count of keys: the banner goes to terminals and logs, and keys are secrets.
    keys = "any non-empty key" if config.api_keys is None else f"{len(config.api_keys)} key(s)"
    return "\n".join(
        (
            f"claudeflow simulator listening on {server.url}",
            f"  limits:     {limit(config.rpm, 'requests')}, "
            f"{limit(config.input_tpm, 'input tokens')}, "
            f"{limit(config.output_tpm, 'output tokens')} (burst {config.burst:g}, "
            f"otpm {config.otpm_mode})",
            f"  time scale: 1 simulated minute = {config.minute_seconds:g} s",
            f"  latency:    ttft {config.ttft_s:g} s + {config.per_token_s:g} s/token",
            f"  auth:       {keys}; stats at {server.url}/_stats",
            "Press Ctrl-C to stop.",
        )
    )
