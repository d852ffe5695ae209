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

# Generous defaults (a high 2025 tier), so the simulator is usable out of the box.
_DEFAULT_RPM = 4_000.0
_DEFAULT_ITPM = 2_000_000.0
_DEFAULT_OTPM = 400_000.0


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand to a :mod:`claudeflow.cli` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="run the offline Anthropic API simulator",
        description="Serve a simulated Claude Messages API with real rate limits.",
    )
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    _limit_args(parser.add_argument_group("limits (per API key and model class)"))
    _model_args(parser.add_argument_group("model behaviour"))
    _fault_args(parser.add_argument_group("fault injection (probabilities per request)"))
    parser.set_defaults(func=run)


def _limit_args(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--rpm", type=float, default=_DEFAULT_RPM, help="requests per minute")
    group.add_argument("--input-tpm", type=float, default=_DEFAULT_ITPM)
    group.add_argument("--output-tpm", type=float, default=_DEFAULT_OTPM)
    group.add_argument("--unlimited", action="store_true", help="no Messages limits at all")
    group.add_argument(
        "--minute-seconds", type=float, default=60.0, help="real seconds per simulated minute"
    )
    group.add_argument("--burst", type=float, default=1.0, help="bucket capacity, (0, 1]")
    group.add_argument("--otpm-mode", choices=("actual", "reserve_max_tokens"), default="actual")
    group.add_argument("--count-cache-reads", action="store_true")
    group.add_argument("--count-tokens-rpm", type=float, default=None)
    group.add_argument("--batch-rpm", type=float, default=None)
    group.add_argument("--batch-process-rpm", type=float, default=None)
    group.add_argument("--retry-after-ms", action="store_true", help="also send retry-after-ms")
    group.add_argument(
        "--api-key", action="append", default=None, help="accepted key (repeatable; default any)"
    )


def _model_args(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--ttft", type=float, default=0.02, help="seconds to first token")
    group.add_argument("--per-token", type=float, default=0.0005, help="seconds per token")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--models", default=None, help="comma-separated accepted model ids")
    group.add_argument("--cache-min-tokens", type=int, default=1024)


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
    group.add_argument("--spend-cap-after", type=int, default=None, metavar="N")
    group.add_argument(
        "--overload-window", type=float, nargs=2, default=None, metavar=("START", "END")
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
        loop.add_signal_handler(sig, stop.set)
    try:
        async with run_simulator(config, host=host, port=port) as server:
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
