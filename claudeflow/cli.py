"""The ``claudeflow`` command line: a thin layer over the public API.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds
its parser and sets ``func`` (taking the parsed args, returning an exit code). Modules
are imported only when their subcommand runs, so ``claudeflow --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__

__all__ = ["main"]

# subcommand -> module providing ``register(subparsers)``
_COMMANDS = {
    "run": "claudeflow.runner._cli",
    "simulate": "claudeflow.simulator._cli",
    "bench": "claudeflow.bench._cli",
    "serve": "claudeflow.gateway._cli",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claudeflow",
        description="Call the Claude Messages API at the full speed your limits allow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMANDS.values():
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
