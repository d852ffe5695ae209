"""``claudeflow serve``: run the gateway from a TOML config (``--hash-key`` for keys).

Imports stay light at module level (``claudeflow --help`` must be fast).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand to a :mod:`claudeflow.cli` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the Anthropic- and OpenAI-compatible gateway",
        description="Serve /v1/messages and /v1/chat/completions in front of one Flow.",
    )
    parser.add_argument("config", nargs="?", help="the gateway's TOML config file")
    parser.add_argument(
        "--hash-key",
        nargs="?",
        const="-",
        metavar="KEY",
        help="print the sha256 of a gateway key for the config (reads stdin without KEY)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gateway processes on one port (N > 1 shares limits through upstream.redis)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        type=str.upper,
        help="the gateway's log level (default INFO)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._errors import ConfigError
    from ._config import hash_key

    if args.hash_key is not None:
        key = args.hash_key if args.hash_key != "-" else _read_key()
        print(hash_key(key))
        return 0
    if args.workers < 1:
        print("claudeflow serve: --workers must be >= 1", file=sys.stderr)
        return 2
    if not args.config:
        print("claudeflow serve: a config file is required", file=sys.stderr)
        return 2
    # The message alone: access lines are JSON, and a prefix would break their parsing.
    logging.basicConfig(level=args.log_level.upper(), format="%(message)s")
    from ._server import serve
    from ._workers import serve_workers

    try:
        if args.workers > 1:
            return serve_workers(args.config, args.workers)
        asyncio.run(serve(args.config))
    except ConfigError as exc:
        print(f"claudeflow serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the port is taken
        print(f"claudeflow serve: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


def _read_key() -> str:
    if sys.stdin.isatty():
        # Not echoed, and not in the shell's history as an argument would be.
        return getpass.getpass("gateway key: ")
    return sys.stdin.readline().strip()
