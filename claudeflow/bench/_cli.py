"""``claudeflow bench``: the load-benchmark suite, its table, ``results.json`` and plots.

    claudeflow bench                              # full default suite (~3 min on 2 cores)
    claudeflow bench --smoke --out /tmp/bench     # seconds-long reduced run (CI)
    claudeflow bench --scenario mixed_priority --no-baselines

Progress goes to stderr, the table to stdout. Exit status: 0 the suite ran (whatever
the verdicts: they are measurements, read them), 2 bad usage or a missing optional
dependency. Heavy imports happen only when the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._suite import SuiteConfig

__all__ = ["register", "run"]

EXIT_OK, EXIT_USAGE = 0, 2
# Repeated here (checked equal by the tests) so that ``claudeflow --help`` imports nothing.
SCENARIOS = (
    "rpm_bound",
    "itpm_bound",
    "otpm_bound_actual",
    "otpm_bound_reserve",
    "mixed_priority",
    "starvation",
    "faults",
    "models",
    "unknown_limits",
    "unknown_limits_mixed",
    "streaming",
    "overhead",
    "scale",
)
CLIENT_NAMES = (
    "claudeflow",
    "claudeflow-stream",
    "claudeflow-learned",
    "claudeflow-summed",
    "sdk",
    "sdk-r10",
    "aiolimiter",
)
_DEFAULT_OUT = Path("bench-results")


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand to a :mod:`claudeflow.cli` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="run the load-benchmark suite against the simulator (or a server)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    for flag, what, names in (
        ("--scenario", "run only this scenario (repeatable; default all)", SCENARIOS),
        ("--clients", "run only these clients (repeatable)", CLIENT_NAMES),
    ):
        parser.add_argument(
            flag, action="append", default=[], metavar="NAME", help=f"{what}: {', '.join(names)}"
        )
    parser.add_argument("--no-baselines", action="store_true", help="claudeflow's own clients only")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply request counts (default 1)"
    )
    parser.add_argument("--smoke", action="store_true", help="seconds-long reduced run")
    parser.add_argument("--out", type=Path, default=_DEFAULT_OUT, help="results folder")
    parser.add_argument(
        "--base-url",
        help="an external server (a simulator, or the real API with $ANTHROPIC_API_KEY)",
    )
    parser.add_argument("--model", default="claude-haiku-4-5")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument("--seed", type=int, default=1, help="workload and jitter seed")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``claudeflow bench``; returns the exit code."""
    from ._deps import MissingDependencyError, ensure

    problem = _usage_problem(args)
    if problem:
        return _usage(problem)
    api_key = "sk-bench"  # the simulator takes any key
    if args.base_url is not None:
        api_key = os.environ.get("ANTHROPIC_API_KEY", "")
        if not api_key:
            return _usage("--base-url needs ANTHROPIC_API_KEY in the environment")
    config = _config(args, api_key)
    try:
        ensure(_needed(config, plots=not args.no_plots))
    except MissingDependencyError as exc:
        return _usage(str(exc))
    return _execute(config, args.out, plots=not args.no_plots)


def _usage_problem(args: argparse.Namespace) -> str:
    """What is wrong with the flags ("" if nothing); notes a run without baselines."""
    from ._catalog import BASELINES
    from ._clients import BASELINES_HINT, baseline_clients

    if args.scale <= 0:
        return "--scale must be > 0"
    for flag, given, known in (
        ("--scenario", args.scenario, SCENARIOS),
        ("--clients", args.clients, CLIENT_NAMES),
    ):
        unknown = [name for name in given if name not in known]
        if unknown:
            return f"unknown {flag} {', '.join(unknown)}; choose from {', '.join(known)}"
    if not baseline_clients():
        asked = [name for name in args.clients if name in BASELINES]
        if asked:
            return f"--clients {', '.join(asked)}: {BASELINES_HINT}"
        if not args.no_baselines:
            print(f"claudeflow bench: claudeflow's clients only; {BASELINES_HINT}", file=sys.stderr)
    return ""


def _config(args: argparse.Namespace, api_key: str) -> SuiteConfig:
    from ._suite import SuiteConfig

    return SuiteConfig(
        scenarios=tuple(args.scenario),
        clients=tuple(args.clients),
        baselines=not args.no_baselines,
        scale=args.scale,
        smoke=args.smoke,
        base_url=args.base_url,
        api_key=api_key,
        model=args.model,
        seed=args.seed,
        quiet=args.quiet,
    )


def _needed(config: SuiteConfig, *, plots: bool) -> list[str]:
    """The optional modules this run imports (the baselines' clients, the plots')."""
    from ._catalog import BASELINES
    from ._deps import BASELINE_MODULES, PLOT_MODULES

    needed: list[str] = []
    if _uses_baselines(config, BASELINES):
        needed += BASELINE_MODULES
    if plots:
        needed += PLOT_MODULES
    return needed


def _uses_baselines(config: SuiteConfig, baselines: tuple[str, ...]) -> bool:
    from ._suite import select

    chosen, _ = select(config)
    return any(client in baselines for _, clients in chosen for client in clients)


def _execute(config: SuiteConfig, out: Path, *, plots: bool) -> int:
    from ._report import render_table, write_results
    from ._suite import run_suite

    result = asyncio.run(run_suite(config))
    written = write_results(result, out)
    if plots:
        from ._plots import write_plots

        written += write_plots(result, out)
    print(render_table(result))
    if not config.quiet:
        print(f"\nwrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"claudeflow bench: {message}", file=sys.stderr)
    return EXIT_USAGE
